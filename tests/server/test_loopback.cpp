// The real transport over 127.0.0.1 with a scripted recognizer (no models needed): modes,
// end of stream, reuse, odd bytes, early audio, every limit, bad input, TLS, HTTP, drain.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "observability/metrics.h"
#include "server/client.h"
#include "server/server.h"
#include "fake_server.h"

using namespace paraserve;
using namespace paraserve::server;
using namespace paraserve::server::testing;
using nlohmann::json;
namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

// Reads replies until an is_final one (bounded); returns them all.
std::vector<json> until_final(ClientConnection& c) {
  std::vector<json> out;
  for (int i = 0; i < 200; ++i) {
    const std::string s = c.read_text(10);
    if (s.empty()) break;
    out.push_back(json::parse(s));
    if (out.back().value("is_final", false)) break;
  }
  return out;
}

std::pair<int, std::string> http_get(uint16_t port, const std::string& target) {
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  beast::http::request<beast::http::empty_body> req(beast::http::verb::get, target, 11);
  req.set(beast::http::field::host, "127.0.0.1");
  beast::http::write(s, req);
  beast::flat_buffer buf;
  beast::http::response<beast::http::string_body> res;
  beast::http::read(s, buf, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace

TEST(Loopback, StreamsTwoUtterancesOnOneConnection) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  auto pcm = tone(16000);
  auto u = c.stream(pcm, 16000, "first");
  ASSERT_TRUE(u.error.empty()) << u.error;
  ASSERT_TRUE(u.got_final);
  EXPECT_EQ(u.online_text, "ppppp");
  EXPECT_EQ(u.offline_text, "samples=16000");
  json last = json::parse(u.replies.back());
  EXPECT_EQ(last["is_end"], true);
  EXPECT_EQ(last["wav_name"], "first");
  int finals = 0;
  for (auto& r : u.replies) finals += json::parse(r)["is_final"].get<bool>();
  EXPECT_EQ(finals, 1);
  auto u2 = c.stream(std::span(pcm).first(8000), 16000, "second");
  EXPECT_EQ(u2.offline_text, "samples=8000");
  EXPECT_EQ(json::parse(u2.replies.back())["wav_name"], "second");
}

TEST(Loopback, RealtimePacingReportsLatencies) {
  TestServer ts;
  ClientConnection c;
  auto o = ts.client(true);
  o.speed = 4.0;
  c.connect(o);
  auto u = c.stream(tone(9600), 16000, "rt");
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_GE(u.first_partial_s, 0.0);
  EXPECT_GE(u.final_s, 0.0);
}

TEST(Loopback, DefaultChunkSizeWhenMissing) {
  TestServer ts;
  ClientConnection c;
  auto o = ts.client();
  o.send_chunk_size = false;
  c.connect(o);
  auto u = c.stream(tone(4000), 16000, "x");
  EXPECT_EQ(u.offline_text, "samples=4000");
}

TEST(Loopback, OddBytesAreCarriedAcrossFrames) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  c.send_text(R"({"mode":"2pass","chunk_size":[5,10,5],"wav_name":"odd","is_speaking":true})");
  std::vector<uint8_t> three(3, 1);
  for (int i = 0; i < 1001; ++i) c.send_binary(three);  // 3003 bytes -> 1501 samples + 1 dropped byte
  c.send_text(R"({"is_speaking":false})");
  auto r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=1501");
}

TEST(Loopback, AudioBeforeFirstJsonKeepsOnlyTheRemainder) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  c.send_binary(std::vector<uint8_t>(4000, 0));  // FunASR drops 3200 bytes, keeps 800
  c.send_text(R"({"chunk_size":[5,10,5],"is_speaking":true})");
  c.send_binary(std::vector<uint8_t>(1600, 0));
  c.send_text(R"({"is_finished":true})");
  auto r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=1200");
  EXPECT_EQ(r.back()["wav_name"], "wav-default-id");
}

TEST(Loopback, MalformedJsonGetsErrorThenClose) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  c.send_text("{oops");
  json j = json::parse(c.read_text(10));
  EXPECT_TRUE(j.contains("error"));
  EXPECT_EQ(j["is_final"], true);
  EXPECT_EQ(c.read_text(10), "");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(c.close_code(), 1007);
}

TEST(Loopback, BadFieldsGetErrorAndConnectionContinues) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  for (const char* bad : {R"({"itn":1})", R"({"mode":"turbo"})", R"({"chunk_size":[5,0,5]})", "[1]"}) {
    c.send_text(bad);
    json j = json::parse(c.read_text(10));
    EXPECT_TRUE(j.contains("error")) << bad;
  }
  c.send_text(R"({"chunk_size":[5,10,5],"wav_name":"ok"})");
  c.send_binary(std::vector<uint8_t>(3200, 0));
  c.send_text(R"({"is_speaking":false})");
  auto r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=1600");
}

TEST(Loopback, UnknownWavFormatGetsErrorThenClose) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  c.send_text(R"({"chunk_size":[5,10,5],"wav_format":"mp3"})");
  json j = json::parse(c.read_text(10));
  EXPECT_NE(j["error"].get<std::string>().find("wav_format"), std::string::npos);
  EXPECT_EQ(c.read_text(10), "");
  EXPECT_EQ(c.close_code(), 1003);
}

TEST(Loopback, RejectsBeyondMaxSessionsWithoutAffectingOthers) {
  ServerConfig cfg;
  cfg.limits.max_sessions = 1;
  TestServer ts(cfg);
  ClientConnection a, b;
  a.connect(ts.client());
  for (int i = 0; i < 100 && ts.server->active_sessions() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(http_get(ts.port, "/readyz").first, 503);
  b.connect(ts.client());
  json j = json::parse(b.read_text(10));
  EXPECT_NE(j["error"].get<std::string>().find("capacity"), std::string::npos);
  EXPECT_EQ(b.read_text(10), "");
  EXPECT_EQ(b.close_code(), 1013);
  auto u = a.stream(tone(3200), 16000, "a");
  EXPECT_EQ(u.offline_text, "samples=3200");
  EXPECT_NE(http_get(ts.port, "/metrics").second.find("paraserve_sessions_rejected_total 1"), std::string::npos);
}

TEST(Loopback, TextAndFrameSizeLimits) {
  ServerConfig cfg;
  cfg.limits.max_text_bytes = 256;
  cfg.limits.max_frame_bytes = 4000;
  TestServer ts(cfg);
  {
    ClientConnection c;
    c.connect(ts.client());
    c.send_text(R"({"wav_name":")" + std::string(300, 'x') + "\"}");
    EXPECT_NE(json::parse(c.read_text(10))["error"].get<std::string>().find("--max-text-bytes"), std::string::npos);
    EXPECT_EQ(c.read_text(10), "");
    EXPECT_EQ(c.close_code(), 1009);
  }
  {
    ClientConnection c;
    c.connect(ts.client());
    c.send_text(R"({"chunk_size":[5,10,5]})");
    c.send_binary(std::vector<uint8_t>(5000, 0));
    EXPECT_NE(json::parse(c.read_text(10))["error"].get<std::string>().find("--max-frame-bytes"), std::string::npos);
    EXPECT_EQ(c.read_text(10), "");
    EXPECT_EQ(c.close_code(), 1009);
  }
}

TEST(Loopback, SessionAudioLimit) {
  ServerConfig cfg;
  cfg.limits.max_session_audio_s = 0.1;  // 3200 bytes at 16 kHz
  TestServer ts(cfg);
  ClientConnection c;
  c.connect(ts.client());
  c.send_text(R"({"chunk_size":[5,10,5]})");
  c.send_binary(std::vector<uint8_t>(3000, 0));
  c.send_binary(std::vector<uint8_t>(3000, 0));
  EXPECT_NE(json::parse(c.read_text(10))["error"].get<std::string>().find("audio limit"), std::string::npos);
  EXPECT_EQ(c.read_text(10), "");
  EXPECT_EQ(c.close_code(), 1008);
}

TEST(Loopback, BackpressureLosesNoAudio) {
  ServerConfig cfg;
  cfg.limits.max_pending_bytes = 4000;  // reading pauses and resumes many times
  TestServer ts(cfg, /*delay_ms=*/2);
  ClientConnection c;
  c.connect(ts.client());
  auto u = c.stream(tone(48000), 16000, "bp");
  EXPECT_EQ(u.offline_text, "samples=48000") << u.error;
}

TEST(Loopback, IdleTimeoutSendsErrorAndCloseFrame) {
  ServerConfig cfg;
  cfg.limits.idle_timeout_s = 1;
  TestServer ts(cfg);
  ClientConnection c;
  c.connect(ts.client());
  const std::string reply = c.read_text(15);
  ASSERT_FALSE(reply.empty()) << "no error reply before the idle close";
  EXPECT_NE(json::parse(reply)["error"].get<std::string>().find("--idle-timeout"), std::string::npos) << reply;
  EXPECT_EQ(c.read_text(15), "");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(c.close_code(), 1001);  // a close frame, not a dropped TCP connection
}

TEST(Loopback, HttpEndpoints) {
  TestServer ts;
  EXPECT_EQ(http_get(ts.port, "/healthz").first, 200);
  EXPECT_EQ(http_get(ts.port, "/readyz").first, 200);
  ClientConnection c;
  c.connect(ts.client());
  c.stream(tone(1600), 16000, "m");
  auto m = http_get(ts.port, "/metrics");
  EXPECT_EQ(m.first, 200);
  for (const char* name : {"paraserve_sessions_active 1", "paraserve_sessions_total 1", "paraserve_utterances_total 1",
                           "paraserve_audio_processed_milliseconds_total 100", "paraserve_final_latency_seconds_count 1",
                           "paraserve_process_resident_bytes", "paraserve_stream_rtf_bucket"})
    EXPECT_NE(m.second.find(name), std::string::npos) << name << "\n" << m.second;
  EXPECT_EQ(http_get(ts.port, "/other").first, 404);
}

TEST(Loopback, TlsWithSelfSignedCertificate) {
  const auto dir = std::filesystem::temp_directory_path() / ("paraserve-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "server.crt").string(), key = (dir / "server.key").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ServerConfig cfg;
  cfg.certfile = cert;
  cfg.keyfile = key;
  TestServer ts(cfg);
  ASSERT_TRUE(ts.tls);
  ClientConnection c;
  c.connect(ts.client());
  auto u = c.stream(tone(3200), 16000, "tls");
  EXPECT_EQ(u.offline_text, "samples=3200") << u.error;
  auto plain = ts.client();
  plain.ssl = false;
  ClientConnection p;
  EXPECT_THROW(p.connect(plain), paraserve::Error);  // wss only on a TLS port, like FunASR
  std::filesystem::remove_all(dir);
}

TEST(Loopback, DrainFinishesTheCurrentUtteranceThenExits) {
  TestServer ts;
  ClientConnection busy, idle;
  busy.connect(ts.client());
  idle.connect(ts.client());
  busy.send_text(R"({"chunk_size":[5,10,5],"wav_name":"d"})");
  busy.send_binary(std::vector<uint8_t>(6400, 0));
  // Drain only once the server has decoded the busy connection's first audio: before that,
  // it has no open utterance and would rightly be closed as idle.
  for (int i = 0; i < 500 && (ts.server->active_sessions() < 2 ||
                              ts.metrics.render_prometheus().find("paraserve_audio_processed_milliseconds_total 200") ==
                                  std::string::npos);
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ts.server->drain();
  EXPECT_EQ(idle.read_text(10), "");  // idle session closed with 1001
  EXPECT_EQ(idle.close_code(), 1001);
  busy.send_binary(std::vector<uint8_t>(3200, 0));
  busy.send_text(R"({"is_speaking":false})");
  auto r = until_final(busy);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=4800");
  EXPECT_EQ(busy.read_text(10), "");
  EXPECT_EQ(busy.close_code(), 1001);
  ts.server->wait();
  EXPECT_EQ(ts.server->active_sessions(), 0u);
}

// Issue 10 #1: each utterance is decoded with its own settings, as on a fresh connection.
TEST(Loopback, LaterUtterancesUseTheirOwnSettings) {
  TestServer ts({}, FakeConfig{.report_settings = true});
  ClientConnection c;
  c.connect(ts.client());
  auto utterance = [&](const std::string& first, std::size_t bytes) {
    c.send_text(first);
    c.send_binary(std::vector<uint8_t>(bytes, 0));
    c.send_text(R"({"is_speaking":false})");
    auto r = until_final(c);
    return r.empty() ? std::string("no reply") : r.back()["text"].get<std::string>();
  };
  EXPECT_EQ(utterance(R"({"chunk_size":[5,10,5],"audio_fs":16000,"hotwords":"a","itn":true,"wav_name":"a"})", 32000),
            "samples=16000 fs=16000 chunk=5,10,5 hw=a itn=1 fmt=pcm");
  EXPECT_TRUE(ts.metric_is("paraserve_audio_processed_milliseconds_total 1000"));
  // Second utterance, other rate / chunk / hotwords / itn: a fresh connection would use them.
  EXPECT_EQ(utterance(R"({"chunk_size":[0,8,4],"audio_fs":8000,"hotwords":"b","itn":false,"wav_format":"PCM"})", 16000),
            "samples=8000 fs=8000 chunk=0,8,4 hw=b itn=0 fmt=PCM");
  // 8000 samples at 8 kHz are one more second (not half a second at the first rate).
  EXPECT_TRUE(ts.metric_is("paraserve_audio_processed_milliseconds_total 2000"))
      << ts.metrics.render_prometheus();
  // Settings persist when not re-sent; the first valid chunk_size of an utterance wins.
  EXPECT_EQ(utterance(R"({"chunk_size":[5,10,5]})", 1600), "samples=800 fs=8000 chunk=5,10,5 hw=b itn=0 fmt=PCM");
  c.send_text(R"({"chunk_size":[4,4,4]})");
  EXPECT_EQ(utterance(R"({"chunk_size":[1,2,3],"audio_fs":16000})", 3200),
            "samples=1600 fs=16000 chunk=4,4,4 hw=b itn=0 fmt=PCM");
}

// Settings sent mid-utterance apply to the next utterance, not to the audio in flight.
TEST(Loopback, SettingsAreFixedForTheUtteranceInProgress) {
  TestServer ts({}, FakeConfig{.report_settings = true});
  ClientConnection c;
  c.connect(ts.client());
  c.send_text(R"({"chunk_size":[5,10,5],"audio_fs":16000})");
  c.send_binary(std::vector<uint8_t>(3200, 0));
  c.send_text(R"({"audio_fs":8000})");
  c.send_binary(std::vector<uint8_t>(3200, 0));
  c.send_text(R"({"is_speaking":false})");
  auto r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=3200 fs=16000 chunk=5,10,5 hw= itn=1 fmt=pcm");
  c.send_binary(std::vector<uint8_t>(1600, 0));
  c.send_text(R"({"is_speaking":false})");
  r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=800 fs=8000 chunk=5,10,5 hw= itn=1 fmt=pcm");
}

// Issue 10 #14: the session audio limit counts decoded duration, whatever audio_fs says.
TEST(Loopback, SessionAudioLimitCountsDecodedDurationAcrossRates) {
  ServerConfig cfg;
  cfg.limits.max_session_audio_s = 0.1;
  TestServer ts(cfg);
  ClientConnection c;
  c.connect(ts.client());
  c.send_text(R"({"chunk_size":[5,10,5],"audio_fs":8000})");
  c.send_binary(std::vector<uint8_t>(1500, 0));  // 0.094 s at 8 kHz
  c.send_text(R"({"is_speaking":false})");
  auto r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=750");
  // 3000 bytes at 192 kHz are 7.8 ms more: over 0.1 s in total. Counting bytes at the newly
  // announced rate would allow 38400 bytes.
  c.send_text(R"({"audio_fs":192000})");
  c.send_binary(std::vector<uint8_t>(3000, 0));
  const std::string reply = c.read_text(10);
  ASSERT_FALSE(reply.empty());
  EXPECT_NE(json::parse(reply)["error"].get<std::string>().find("audio limit"), std::string::npos) << reply;
  EXPECT_EQ(c.read_text(10), "");
  EXPECT_EQ(c.close_code(), 1008);
}

// Issue 10 #3: a chunk_size the session would refuse is refused by the protocol check with
// the documented error reply, and the connection goes on.
TEST(Loopback, OutOfRangeChunkSizeGetsErrorReplyNotDecodingFailed) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  c.send_text(R"({"chunk_size":[5,500,5]})");
  json j = json::parse(c.read_text(10));
  EXPECT_NE(j["error"].get<std::string>().find("field 'chunk_size'"), std::string::npos) << j.dump();
  c.send_text(R"({"chunk_size":[5,10,5]})");
  c.send_binary(std::vector<uint8_t>(3200, 0));
  c.send_text(R"({"is_speaking":false})");
  auto r = until_final(c);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back()["text"], "samples=1600");
}

// Issue 10 #2: a server that cannot build a session refuses to start (no /readyz 200).
TEST(Loopback, RefusesToStartWhenNoSessionCanBeBuilt) {
  ServerConfig cfg;
  cfg.listen_ip = "127.0.0.1";
  cfg.port = 0;
  Server s(cfg, [](const SessionOptions&) -> std::unique_ptr<Recognizer> {
    throw Error("streaming needs a punctuation model: set --punc-dir");
  });
  try {
    s.start();
    ADD_FAILURE() << "start() succeeded without a usable model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--punc-dir"), std::string::npos) << e.what();
  }
}

// Issue 10 #5: the utterance counter and RTF are updated before the final reply leaves, so
// a client that reads /metrics right after its final always sees its utterance.
TEST(Loopback, MetricsAreCurrentWhenTheFinalArrives) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  const auto pcm = tone(800);
  for (int i = 1; i <= 150; ++i) {
    auto u = c.stream(pcm, 16000, "m");
    ASSERT_TRUE(u.got_final) << u.error;
    const std::string m = ts.metrics.render_prometheus();
    ASSERT_NE(m.find("paraserve_utterances_total " + std::to_string(i) + "\n"), std::string::npos) << "utterance " << i;
    ASSERT_NE(m.find("paraserve_stream_rtf_count " + std::to_string(i) + "\n"), std::string::npos) << "utterance " << i;
  }
}
