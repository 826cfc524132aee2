// The WebSocket protocol: one text message through the parser (src/server/protocol.*), and
// frame sequences through a connection's per-message state machine (src/server/connection.*).
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "fuzz_targets.h"
#include "observability/metrics.h"
#include "server/connection.h"
#include "server/protocol.h"

namespace paraserve::fuzz {
namespace {

using nlohmann::json;
using server::ClientParams;

bool same_params(const ClientParams& a, const ClientParams& b) {
  auto chunk_eq = [](const std::optional<ChunkSize>& x, const std::optional<ChunkSize>& y) {
    if (x.has_value() != y.has_value()) return false;
    return !x || (x->left == y->left && x->chunk == y->chunk && x->right == y->right);
  };
  return a.mode == b.mode && a.wav_name == b.wav_name && a.wav_format == b.wav_format && a.audio_fs == b.audio_fs &&
         a.itn == b.itn && a.svs_lang == b.svs_lang && a.svs_itn == b.svs_itn && chunk_eq(a.chunk, b.chunk) &&
         a.hotwords == b.hotwords && a.configured == b.configured;
}

// A reply the server sends must be a JSON object a FunASR client can read.
json check_reply(const std::string& reply, const char* what) {
  json j = json::parse(reply, nullptr, false);
  fuzz_check(j.is_object(), std::string(what) + ": reply is not a JSON object: " + reply.substr(0, 200));
  fuzz_check(j.contains("is_final") && j["is_final"].is_boolean(), std::string(what) + ": reply without is_final");
  fuzz_check(j.contains("wav_name") && j["wav_name"].is_string(), std::string(what) + ": reply without wav_name");
  fuzz_check(j.contains("text") && j["text"].is_string(), std::string(what) + ": reply without text");
  return j;
}

void apply_and_check(std::string_view text, ClientParams& params) {
  const ClientParams before = params;
  const server::MessageOutcome out = server::apply_text_message(text, params);
  if (!out.error.empty()) {
    fuzz_check(same_params(before, params), "a rejected message changed the connection's parameters");
    fuzz_check(!out.end_of_stream, "a rejected message ended the stream");
    json e = check_reply(server::format_error(params.wav_name, out.error), "format_error");
    fuzz_check(e["is_final"] == true, "error reply is not final");
    return;
  }
  fuzz_check(params.configured, "an accepted message left the connection unconfigured");
  fuzz_check(server::parse_mode(params.mode).has_value(), "accepted mode is not a valid mode");
  fuzz_check(server::is_pcm_format(params.wav_format), "accepted wav_format is not PCM");
  fuzz_check(params.audio_fs >= 1000, "accepted audio_fs below 1000");
  if (params.chunk)
    fuzz_check(params.chunk->chunk > 0 && params.chunk->left >= 0 && params.chunk->right >= 0,
               "accepted chunk_size out of range");
  const SessionOptions o = server::session_options(params);
  fuzz_check(o.sample_rate == params.audio_fs && o.chunk.chunk > 0, "session options disagree with params");
}

}  // namespace

int protocol_message(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ClientParams fresh;
  apply_and_check(text, fresh);
  ClientParams configured;
  apply_and_check(R"({"mode":"online","wav_name":"w","chunk_size":[5,10,5],"hotwords":"a 1","audio_fs":8000})",
                  configured);
  apply_and_check(text, configured);

  // Replies built from arbitrary (model vocabulary) text must stay valid JSON.
  StreamResult r;
  const std::size_t half = size / 2;
  r.online_text.assign(text.substr(0, half));
  r.offline_text.assign(text.substr(half));
  r.has_offline = !r.offline_text.empty();
  r.has_timestamps = size % 3 == 0;
  r.timestamps.push_back({static_cast<int64_t>(size), static_cast<int64_t>(size) + 60});
  r.stamp_sents.push_back({r.offline_text, r.online_text, 0, 60, r.timestamps});
  r.vad_start_ms = size % 7 == 0 ? -1 : 10;
  r.vad_end_ms = 20;
  r.is_final = size % 2 == 0;
  for (Mode m : {Mode::kOffline, Mode::kOnline, Mode::kTwoPass}) {
    server::ReplyState st;
    const std::string reply = server::format_result(r, m, fresh.wav_name, st);
    if (!reply.empty()) check_reply(reply, "format_result");
    fuzz_check(!reply.empty() || !r.is_final, "a final result produced no reply");
  }
  return 0;
}

// ------------------------------------------------------------------------------------------
// Connection state machine. The input is a list of records, each one byte of opcode
// (value % 5) followed, for frames, by a 2-byte little-endian length and the payload:
//   0 text frame, 1 binary frame, 2 let the decoder worker run, 3 client hangs up,
//   4 server starts draining.
// The connection runs against a scripted recognizer on a single-threaded io_context (the
// socket side) and a thread-less WorkScheduler (the decoder side), stepped alternately, so
// every run is deterministic.

namespace {

class ScriptedRecognizer final : public server::Recognizer {
 public:
  explicit ScriptedRecognizer(std::uint64_t* fed_total) : fed_total_(fed_total) {}
  void set_mode(Mode) override {}
  void feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out) override {
    *fed_total_ += pcm.size();
    since_ += pcm.size();
    while (since_ >= 1600) {
      since_ -= 1600;
      StreamResult r;
      r.online_text = "p";
      out.push_back(r);
    }
  }
  void finish(std::vector<StreamResult>& out) override {
    StreamResult r;
    r.is_final = true;
    r.has_offline = true;
    r.offline_text = "f";
    out.push_back(r);
    since_ = 0;
  }
  std::size_t state_bytes() const override { return 0; }

 private:
  std::uint64_t* fed_total_;
  std::uint64_t since_ = 0;
};

class FuzzConnection final : public server::ConnectionCore {
 public:
  FuzzConnection(server::ServerContext& ctx, boost::asio::any_io_executor io) : ConnectionCore(ctx, std::move(io)) {}
  void send(std::string message) override {
    if (hung_up) return;
    const json j = check_reply(message, "connection");
    if (j["is_final"] == true && !j.contains("error")) ++finals;
    if (j.contains("error")) ++errors;
    ++replies;
  }
  void close_after_flush(server::CloseCode) override { close_requested = true; }
  void force_close() override {
    hung_up = true;
    on_socket_closed();
  }
  void resume_reading() override { paused = false; }

  int replies = 0, finals = 0, errors = 0;
  bool close_requested = false, hung_up = false, paused = false;
};

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool take(std::size_t k, std::span<const std::uint8_t>& out) {
    if (n < k) return false;
    out = {p, k};
    p += k;
    n -= k;
    return true;
  }
};

}  // namespace

int connection(const std::uint8_t* data, std::size_t size) {
  // Every protocol error is logged at info level; millions of them only slow the fuzzer.
  static const bool quiet = (spdlog::set_level(spdlog::level::warn), true);
  (void)quiet;
  boost::asio::io_context io;
  Metrics registry;
  server::ServerMetrics metrics(registry, {});
  server::ServerContext ctx;
  ctx.config.limits.max_sessions = 4;
  ctx.config.limits.max_pending_bytes = 16 * 1024;  // small, so backpressure is reachable
  ctx.config.limits.max_session_audio_s = 2.0;      // small, so the audio limit is reachable
  ctx.metrics = &metrics;
  server::WorkScheduler work;
  ctx.scheduler = &work;
  std::uint64_t fed = 0;
  ctx.factory = [&fed](const SessionOptions&) { return std::make_unique<ScriptedRecognizer>(&fed); };

  std::uint64_t binary_bytes = 0;
  int ends = 0;
  auto conn = std::make_shared<FuzzConnection>(ctx, io.get_executor());
  auto run_all = [&] {
    for (int i = 0; i < 1000; ++i) {
      const bool ran = work.run_one();
      if (io.poll() == 0 && !ran) break;
    }
    io.restart();
  };
  if (conn->admit()) {
    Reader in{data, size};
    std::span<const std::uint8_t> op, len, payload;
    while (!conn->hung_up && in.take(1, op)) {
      const int code = op[0] % 5;
      if (code <= 1) {
        if (!in.take(2, len)) break;
        const std::size_t n = std::min<std::size_t>(len[0] | (len[1] << 8), in.n);
        in.take(n, payload);
        if (conn->close_requested) continue;  // the transport stops reading once closing
        if (code == 0) {
          const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
          ClientParams probe;
          if (server::apply_text_message(text, probe).end_of_stream) ++ends;
          conn->on_text(text);
        } else {
          binary_bytes += payload.size();
          if (!conn->on_binary(payload)) conn->paused = true;
        }
      } else if (code == 2) {
        run_all();
      } else if (code == 3) {
        conn->force_close();
      } else {
        conn->begin_drain();
      }
    }
  }
  run_all();
  // The recognizer never sees more samples than the client sent (odd bytes carried, not invented).
  fuzz_check(fed * 2 <= binary_bytes + 1, "recognizer got more samples than the client sent");
  fuzz_check(conn->finals <= ends, "more final replies than end-of-stream messages");
  conn.reset();
  run_all();
  fuzz_check(ctx.sessions.empty(), "a finished connection is still registered");
  return 0;
}

}  // namespace paraserve::fuzz
