#include "server/client.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace paraserve::server {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct ClientConnection::Impl {
  net::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  std::optional<websocket::stream<beast::tcp_stream>> plain;
  std::optional<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> secure;
  ClientOptions opt;
  beast::flat_buffer buf;
  bool is_closed = true;
  uint16_t code = 0;

  template <class F>
  decltype(auto) ws(F&& f) {
    if (secure) return f(*secure);
    return f(*plain);
  }
  void note_error(const beast::error_code& ec) {
    is_closed = true;
    ws([&](auto& w) {
      if (ec == websocket::error::closed) code = w.reason().code;
    });
  }
  void hard_close() {
    ws([](auto& w) { beast::get_lowest_layer(w).close(); });
    is_closed = true;
  }
};

ClientConnection::ClientConnection() : impl_(std::make_unique<Impl>()) {}
ClientConnection::~ClientConnection() { close(); }

void ClientConnection::connect(const ClientOptions& o) {
  Impl& m = *impl_;
  m.opt = o;
  m.code = 0;
  const std::string where = std::string(o.ssl ? "wss://" : "ws://") + o.host + ":" + std::to_string(o.port);
  try {
    tcp::resolver resolver(m.ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port));
    auto handshake = [&](auto& w) {
      auto& tcp_layer = beast::get_lowest_layer(w);
      tcp_layer.connect(results);
      tcp_layer.socket().set_option(tcp::no_delay(true));
      if constexpr (!std::is_same_v<std::decay_t<decltype(w.next_layer())>, beast::tcp_stream>) {
        if (!SSL_set_tlsext_host_name(w.next_layer().native_handle(), o.host.c_str()))
          throw Error("cannot set TLS SNI host name");
        w.next_layer().handshake(ssl::stream_base::client);
      }
      w.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::sec_websocket_protocol, "binary");  // what FunASR's Python client offers
      }));
      w.handshake(o.host, "/");
      w.read_message_max(64 << 20);
    };
    if (o.ssl) {
      m.tls.set_verify_mode(ssl::verify_none);  // FunASR's clients do not verify the certificate
      m.secure.emplace(m.ioc, m.tls);
      m.plain.reset();
      handshake(*m.secure);
    } else {
      m.plain.emplace(m.ioc);
      m.secure.reset();
      handshake(*m.plain);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("cannot connect to " + where + ": " + e.what());
  }
  m.is_closed = false;
}

bool ClientConnection::closed() const { return impl_->is_closed; }
uint16_t ClientConnection::close_code() const { return impl_->code; }

void ClientConnection::close() {
  Impl& m = *impl_;
  if (m.is_closed || (!m.plain && !m.secure)) return;
  beast::error_code ec;
  m.ws([&](auto& w) {
    beast::get_lowest_layer(w).expires_after(std::chrono::seconds(2));
    w.close(websocket::close_code::normal, ec);
  });
  m.is_closed = true;
}

void ClientConnection::send_text(const std::string& text) {
  impl_->ws([&](auto& w) {
    w.text(true);
    w.write(net::buffer(text));
  });
}

void ClientConnection::send_binary(std::span<const uint8_t> bytes) {
  impl_->ws([&](auto& w) {
    w.binary(true);
    w.write(net::buffer(bytes.data(), bytes.size()));
  });
}

std::string ClientConnection::read_text(double timeout_s) {
  Impl& m = *impl_;
  if (m.is_closed) return {};
  auto result = std::make_shared<std::optional<std::string>>();
  m.buf.consume(m.buf.size());
  m.ws([&](auto& w) {
    w.async_read(m.buf, [&m, result](beast::error_code ec, std::size_t) {
      if (ec) {
        m.note_error(ec);
        *result = std::string();
        return;
      }
      *result = beast::buffers_to_string(m.buf.cdata());
    });
  });
  m.ioc.restart();
  m.ioc.run_for(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s)));
  if (!result->has_value()) {  // timeout: the connection is unusable from here on
    m.hard_close();
    m.ioc.restart();
    m.ioc.run_for(std::chrono::seconds(1));
    return {};
  }
  return **result;
}

namespace {

// Per-utterance state shared by the send and receive chains.
struct StreamState {
  ClientUtterance out;
  std::span<const int16_t> pcm;
  std::size_t pos = 0;
  std::size_t frame = 960;
  Clock::duration frame_dur{};
  Clock::time_point first_audio{}, end_sent{};
  std::string first_msg, end_msg;
  bool done = false;
};

}  // namespace

ClientUtterance ClientConnection::stream(std::span<const int16_t> pcm, int sample_rate, const std::string& wav_name) {
  Impl& m = *impl_;
  auto st = std::make_shared<StreamState>();
  st->out.wav_name = wav_name;
  st->out.audio_s = static_cast<double>(pcm.size()) / sample_rate;
  if (m.is_closed) {
    st->out.error = "not connected";
    return st->out;
  }
  const ClientOptions& o = m.opt;
  st->pcm = pcm;
  const double frame_ms = 60.0 * o.chunk.chunk / std::max(1, o.chunk_interval);
  st->frame = std::max<std::size_t>(1, static_cast<std::size_t>(frame_ms * sample_rate / 1000.0));
  st->frame_dur = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(frame_ms / std::max(0.01, o.speed)));
  json first = {{"mode", o.mode},
                {"chunk_interval", o.chunk_interval},
                {"encoder_chunk_look_back", 4},
                {"decoder_chunk_look_back", 0},
                {"audio_fs", sample_rate},
                {"wav_name", wav_name},
                {"wav_format", "pcm"},
                {"is_speaking", true},
                {"hotwords", o.hotwords},
                {"itn", o.itn}};
  if (o.send_chunk_size) first["chunk_size"] = {o.chunk.left, o.chunk.chunk, o.chunk.right};
  if (!o.svs_lang.empty()) first["svs_lang"] = o.svs_lang;
  if (o.svs_itn) first["svs_itn"] = *o.svs_itn;
  st->first_msg = first.dump();
  st->end_msg = json{{"is_speaking", false}, {"is_end", true}}.dump();
  auto timer = std::make_shared<net::steady_timer>(m.ioc);

  m.ws([&](auto& w) {
    using W = std::decay_t<decltype(w)>;
    W* ws = &w;
    auto fail = [&m, st](const std::string& what, beast::error_code ec) {
      if (st->done) return;
      st->done = true;
      m.note_error(ec);
      st->out.error = what + ": " + ec.message();
    };
    // Receive chain.
    auto on_read = std::make_shared<std::function<void(beast::error_code, std::size_t)>>();
    *on_read = [&m, st, ws, on_read, fail](beast::error_code ec, std::size_t) {
      if (st->done) return;
      if (ec) return fail("connection lost before the final reply", ec);
      std::string text = beast::buffers_to_string(m.buf.cdata());
      m.buf.consume(m.buf.size());
      const auto now = Clock::now();
      json j = json::parse(text, nullptr, false);
      st->out.replies.push_back(std::move(text));
      if (j.is_object()) {
        const std::string t = j.value("text", "");
        const std::string mode = j.value("mode", "");
        if (!t.empty() && st->out.first_partial_s < 0 && st->first_audio != Clock::time_point{})
          st->out.first_partial_s = std::chrono::duration<double>(now - st->first_audio).count();
        if (mode == "2pass-online") st->out.online_text += t;
        else if (mode == "2pass-offline") st->out.offline_text += t;
        if (j.contains("error") && j["error"].is_string()) st->out.error = j["error"].get<std::string>();
        if (j.value("is_final", false)) {
          st->out.got_final = true;
          if (st->end_sent != Clock::time_point{})
            st->out.final_s = std::chrono::duration<double>(now - st->end_sent).count();
          st->done = true;
          return;
        }
      }
      ws->async_read(m.buf, *on_read);
    };
    m.buf.consume(m.buf.size());
    ws->async_read(m.buf, *on_read);

    // Send chain: first JSON, audio frames (paced or not), end-of-speech message.
    auto send_next = std::make_shared<std::function<void()>>();
    *send_next = [st, ws, send_next, fail, timer, realtime = o.realtime]() {
      if (st->done) return;
      if (st->pos >= st->pcm.size()) {
        ws->text(true);
        ws->async_write(net::buffer(st->end_msg), [st, fail](beast::error_code ec, std::size_t) {
          if (ec) return fail("sending the end-of-speech message failed", ec);
        });
        st->end_sent = Clock::now();
        return;
      }
      const std::size_t n = std::min(st->frame, st->pcm.size() - st->pos);
      const auto* bytes = reinterpret_cast<const uint8_t*>(st->pcm.data() + st->pos);
      st->pos += n;
      if (st->first_audio == Clock::time_point{}) st->first_audio = Clock::now();
      ws->binary(true);
      ws->async_write(net::buffer(bytes, n * 2), [st, send_next, fail, timer, realtime](beast::error_code ec, std::size_t) {
        if (ec) return fail("sending audio failed", ec);
        if (realtime) {
          timer->expires_after(st->frame_dur);
          timer->async_wait([send_next](beast::error_code e) {
            if (!e) (*send_next)();
          });
        } else {
          (*send_next)();
        }
      });
    };
    ws->text(true);
    ws->async_write(net::buffer(st->first_msg), [send_next, fail](beast::error_code ec, std::size_t) {
      if (ec) return fail("sending the first message failed", ec);
      (*send_next)();
    });
    m.ioc.restart();
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
    while (!st->done && Clock::now() < deadline && !m.ioc.stopped()) m.ioc.run_one_until(deadline);
    if (!st->done) {
      st->done = true;
      st->out.error = "timed out after " + std::to_string(o.timeout_s) + " s waiting for the final reply";
      timer->cancel();
      m.hard_close();
    }
    timer->cancel();
    // Let pending completions (the last write, a cancelled timer) run before state goes away.
    m.ioc.restart();
    m.ioc.run_for(std::chrono::milliseconds(200));
    // Break the self-references of the chains.
    *on_read = nullptr;
    *send_next = nullptr;
  });
  return st->out;
}

PcmAudio read_audio_file(const std::string& path, int pcm_rate) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open audio file");
  std::vector<char> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  PcmAudio a;
  const bool is_wav = data.size() >= 12 && std::memcmp(data.data(), "RIFF", 4) == 0 &&
                      std::memcmp(data.data() + 8, "WAVE", 4) == 0;
  if (!is_wav) {
    if (data.size() % 2) data.pop_back();
    a.samples.resize(data.size() / 2);
    std::memcpy(a.samples.data(), data.data(), a.samples.size() * 2);
    a.sample_rate = pcm_rate;
    return a;
  }
  auto u16 = [&](std::size_t at) { return static_cast<uint32_t>(static_cast<uint8_t>(data[at]) | (static_cast<uint8_t>(data[at + 1]) << 8)); };
  auto u32 = [&](std::size_t at) { return u16(at) | (u16(at + 2) << 16); };
  std::size_t pos = 12;
  int channels = 0, bits = 0, format = 0;
  while (pos + 8 <= data.size()) {
    const std::string id(data.data() + pos, 4);
    const std::size_t size = u32(pos + 4);
    const std::size_t body = pos + 8;
    if (body + size > data.size() && id != "data") throw Error(path + ": truncated WAV chunk '" + id + "'");
    if (id == "fmt " && size >= 16) {
      format = static_cast<int>(u16(body));
      channels = static_cast<int>(u16(body + 2));
      a.sample_rate = static_cast<int>(u32(body + 4));
      bits = static_cast<int>(u16(body + 14));
    } else if (id == "data") {
      if (channels < 1 || bits != 16 || (format != 1 && format != 0xFFFE))
        throw Error(path + ": expected 16-bit PCM WAV (format 1, 16 bits), got format " + std::to_string(format) +
                    " with " + std::to_string(bits) + " bits");
      const std::size_t avail = std::min(size, data.size() - body);
      const std::size_t frames = avail / (2 * static_cast<std::size_t>(channels));
      a.samples.resize(frames);
      for (std::size_t i = 0; i < frames; ++i)  // first channel only
        std::memcpy(&a.samples[i], data.data() + body + i * 2 * channels, 2);
      return a;
    }
    pos = body + size + (size & 1);
  }
  throw Error(path + ": WAV file has no 'data' chunk");
}

}  // namespace paraserve::server
