// Abuse over loopback (issue 10): every misbehaving client gets an explicit error or a clean
// close, the server stays up, memory stays bounded, and a well-behaved session running at
// the same time gets exactly the replies it gets on an idle server.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/rate_limited_log.h"
#include "fake_server.h"
#include "raw_ws.h"

using namespace paraserve;
using namespace paraserve::server;
using namespace paraserve::server::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

namespace {

// The well-behaved session: three utterances on one connection; returns every reply.
std::vector<std::string> witness(uint16_t port) {
  ClientConnection c;
  ClientOptions o;
  o.port = port;
  o.realtime = false;
  o.timeout_s = 20;
  std::vector<std::string> all;
  try {
    c.connect(o);
  } catch (const std::exception& e) {
    return {std::string("connect failed: ") + e.what()};
  }
  const auto pcm = tone(16000);
  for (int i = 0; i < 3; ++i) {
    auto u = c.stream(pcm, 16000, "w" + std::to_string(i));
    if (!u.error.empty()) all.push_back("error: " + u.error);
    for (auto& r : u.replies) all.push_back(r);
  }
  return all;
}

// Runs `attack` while a witness session streams; checks the witness saw what it sees on
// an idle server, and that the server still serves a new session afterwards.
template <class Attack>
void under_attack(TestServer& ts, Attack attack) {
  const auto reference = witness(ts.port);
  ASSERT_EQ(reference.size(), 18u);  // 3 x (5 partials + final)
  auto during = std::async(std::launch::async, [&] { return witness(ts.port); });
  attack();
  EXPECT_EQ(during.get(), reference);
  EXPECT_EQ(witness(ts.port), reference);  // still up
}

std::string error_of(const std::string& reply) {
  json j = json::parse(reply, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : std::string("<no error in: ") + reply + ">";
}

}  // namespace

TEST(Abuse, MalformedMessagesOfEveryKind) {
  TestServer ts;
  under_attack(ts, [&] {
    struct Case {
      std::string text;
      bool closes;
    };
    const Case cases[] = {{"{oops", true},          {"", true},
                          {"[]", false},            {"42", false},
                          {"\"x\"", false},         {R"({"audio_fs":-5})", false},
                          {R"({"audio_fs":1e99})", false}, {R"({"chunk_size":[1,2,3,4]})", false},
                          {R"({"chunk_size":[0,101,0]})", false}, {R"({"wav_name":null})", false},
                          {R"({"mode":"2pass","mode":7})", false}};
    for (const auto& c : cases) {
      RawWs ws(ts.port);
      ASSERT_TRUE(ws.handshake());
      ASSERT_TRUE(ws.text(c.text));
      uint16_t code = 0;
      if (c.closes) {
        auto texts = ws.read_texts(code);
        ASSERT_EQ(texts.size(), 1u) << c.text;
        EXPECT_FALSE(error_of(texts[0]).empty()) << c.text;
        EXPECT_EQ(code, 1007) << c.text;
      } else {
        auto f = ws.read_frame();
        ASSERT_TRUE(f) << c.text;
        EXPECT_EQ(error_of(f->payload).find("<no error"), std::string::npos) << c.text << " -> " << f->payload;
      }
    }
    // Text that is not UTF-8 is refused by the WebSocket layer itself: close 1007.
    RawWs ws(ts.port);
    ASSERT_TRUE(ws.handshake());
    ws.text("{\"wav_name\":\"\xff\xfe\"}");
    uint16_t code = 0;
    ws.read_texts(code);
    EXPECT_EQ(code, 1007);
  });
}

TEST(Abuse, OversizedMessagesGetAnErrorReplyThenClose1009) {
  ServerConfig cfg;
  cfg.limits.max_text_bytes = 1024;
  cfg.limits.max_frame_bytes = 8192;
  TestServer ts(cfg);
  under_attack(ts, [&] {
    for (std::size_t size : {std::size_t{1025}, std::size_t{3000}, std::size_t{1} << 20}) {
      RawWs ws(ts.port);
      ASSERT_TRUE(ws.handshake());
      ws.text(R"({"wav_name":")" + std::string(size, 'x') + "\"}");
      uint16_t code = 0;
      auto texts = ws.read_texts(code);
      ASSERT_EQ(texts.size(), 1u) << size;
      EXPECT_NE(error_of(texts[0]).find("--max-text-bytes"), std::string::npos) << texts[0];
      EXPECT_EQ(code, 1009) << size;
    }
    for (std::size_t size : {std::size_t{8193}, std::size_t{100000}}) {
      RawWs ws(ts.port);
      ASSERT_TRUE(ws.handshake());
      ws.text(R"({"chunk_size":[5,10,5]})");
      ws.binary(std::vector<uint8_t>(size, 0));
      uint16_t code = 0;
      auto texts = ws.read_texts(code);
      ASSERT_FALSE(texts.empty()) << size;
      EXPECT_NE(error_of(texts.back()).find("--max-frame-bytes"), std::string::npos) << texts.back();
      EXPECT_EQ(code, 1009) << size;
    }
  });
}

TEST(Abuse, BinaryBeforeFirstJsonIsBounded) {
  TestServer ts;
  under_attack(ts, [&] {
    RawWs ws(ts.port);
    ASSERT_TRUE(ws.handshake());
    for (int i = 0; i < 50; ++i) ws.binary(std::vector<uint8_t>(100001, 1));  // 5 MB, none of it kept but < 1600 B
    ws.text(R"({"chunk_size":[5,10,5]})");
    ws.text(R"({"is_speaking":false})");
    auto f = ws.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(json::parse(f->payload)["text"], "samples=" + std::to_string(5000050 % 1600 / 2));
  });
}

TEST(Abuse, ZeroAndOddLengthFramesKeepThePcmInStep) {
  TestServer ts({}, FakeConfig{.hash = true});
  // Reference: the same bytes in even frames.
  std::vector<uint8_t> bytes(9999);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  auto run = [&](const std::vector<std::size_t>& sizes) {
    RawWs ws(ts.port);
    EXPECT_TRUE(ws.handshake());
    ws.text(R"({"chunk_size":[5,10,5]})");
    std::size_t at = 0;
    for (std::size_t i = 0; at < bytes.size(); ++i) {
      const std::size_t n = std::min(sizes[i % sizes.size()], bytes.size() - at);
      ws.binary(std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                     bytes.begin() + static_cast<std::ptrdiff_t>(at + n)));
      ws.binary({});  // zero-length frames change nothing
      at += n;
    }
    ws.text(R"({"is_speaking":false})");
    std::string text;
    while (auto f = ws.read_frame()) {
      json j = json::parse(f->payload);
      if (j.value("is_final", false)) return j["text"].get<std::string>();
    }
    return text;
  };
  const std::string even = run({2000});
  ASSERT_EQ(even.rfind("samples=4999 hash=", 0), 0u) << even;
  EXPECT_EQ(run({1}), even);
  EXPECT_EQ(run({3, 5, 7}), even);
  EXPECT_EQ(run({1001, 1}), even);
}

TEST(Abuse, SlowlorisHandshakeIsDropped) {
  ServerConfig cfg;
  cfg.limits.handshake_timeout_s = 1;
  TestServer ts(cfg);
  under_attack(ts, [&] {
    std::vector<std::unique_ptr<RawWs>> slow;
    for (int i = 0; i < 20; ++i) {
      slow.push_back(std::make_unique<RawWs>(ts.port));
      slow.back()->send_str("GET / HTTP/1.1\r\nHost: x\r\n");  // and never the rest
    }
    const auto t0 = Clock::now();
    for (auto& s : slow) {
      s->send_str("X-Slow: 1\r\n");
      s->read_all(5);
      EXPECT_TRUE(s->eof());
    }
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 4.0);
  });
}

TEST(Abuse, ClientThatNeverReadsIsClosed) {
  ServerConfig cfg;
  cfg.limits.max_outgoing_bytes = 8192;
  TestServer ts(cfg);
  under_attack(ts, [&] {
    RawWs ws(ts.port, /*rcvbuf=*/4096);
    ASSERT_TRUE(ws.handshake());
    ws.text(R"({"chunk_size":[5,10,5],"hotwords":"big:4000"})");
    // 4 KB of reply per 6.4 KB of audio, never read: the server must give up on us.
    std::vector<uint8_t> audio(6400, 0);
    bool sent = true;
    const auto t0 = Clock::now();
    while (sent && Clock::now() - t0 < std::chrono::seconds(10)) {
      pollfd p{ws.fd(), POLLOUT, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      sent = ws.binary(audio);
      if (ts.metric_is("paraserve_slow_client_closes_total 1")) break;
    }
    EXPECT_TRUE(TestServer::eventually([&] { return ts.metric_is("paraserve_slow_client_closes_total 1"); }));
    EXPECT_TRUE(TestServer::eventually([&] { return ts.server->active_sessions() == 0; }));
  });
}

TEST(Abuse, ConnectionResetMidUtterance) {
  TestServer ts({}, FakeConfig{.delay_ms = 1});
  under_attack(ts, [&] {
    for (int i = 0; i < 10; ++i) {
      RawWs ws(ts.port);
      ASSERT_TRUE(ws.handshake());
      ws.text(R"({"chunk_size":[5,10,5]})");
      ws.binary(std::vector<uint8_t>(64000, 0));
      ws.reset();
    }
    EXPECT_TRUE(TestServer::eventually([&] { return ts.server->active_sessions() <= 1; }));
  });
  EXPECT_TRUE(TestServer::eventually([&] { return ts.server->active_sessions() == 0; }));
}

TEST(Abuse, HttpGarbageAndTlsHelloGet400) {
  TestServer ts;
  under_attack(ts, [&] {
    // Start of a TLS 1.2 ClientHello record.
    const std::string tls_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x12\x34\x56\x78", 15);
    for (const std::string& junk : {std::string("GARBAGE\r\n\r\n"), tls_hello + std::string(500, '\x01'),
                                    std::string("GET /\x01 HTTP/1.1\r\n\r\n"),
                                    std::string("GET / HTTP/1.1\r\nContent-Length: zz\r\n\r\n")}) {
      RawSocket s(ts.port);
      ASSERT_TRUE(s.ok());
      s.send_str(junk);
      const std::string reply = s.read_all(5);
      EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << "reply to " << junk.size() << " bytes of junk: " << reply;
      EXPECT_TRUE(s.eof());
    }
    RawSocket big(ts.port);
    big.send_str("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    EXPECT_EQ(big.read_all(5).rfind("HTTP/1.1 431", 0), 0u);
  });
}

TEST(Abuse, HundredUtterancesOnOneConnectionKeepRssFlat) {
  TestServer ts;
  ClientConnection c;
  c.connect(ts.client());
  const auto pcm = tone(16000);
  long after10 = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string name = std::to_string(i);  // ("u" + to_string: a GCC 12 -Wrestrict false positive)
    auto u = c.stream(pcm, 16000, name);
    ASSERT_EQ(u.offline_text, "samples=16000") << i << " " << u.error;
    if (i == 9) after10 = rss_kb();
  }
  const long after100 = rss_kb();
  if (!kSanitized) {  // sanitizer shadow memory and quarantine make RSS meaningless there
    EXPECT_LT(after100 - after10, 2048) << "RSS grew from " << after10 << " kB to " << after100 << " kB";
  }
}

// Issue 10 #15: a peer that announces a large frame and stalls does not park it.
TEST(Abuse, StalledLargeFramesAreNotParked) {
  ServerConfig cfg;
  cfg.limits.max_frame_bytes = 1 << 20;
  TestServer ts(cfg);
  under_attack(ts, [&] {
    const long before = rss_kb();
    std::vector<std::unique_ptr<RawWs>> stalled;
    const std::vector<uint8_t> part(900000, 1);
    for (int i = 0; i < 40; ++i) {
      stalled.push_back(std::make_unique<RawWs>(ts.port));
      ASSERT_TRUE(stalled.back()->handshake());
      stalled.back()->text(R"({"chunk_size":[5,10,5]})");
      stalled.back()->send_str(RawWs::header(RawWs::kBinary, 1000000));
      stalled.back()->send_all(part.data(), part.size());  // 100 kB short, then silence
    }
    // Give the server time to read what was sent.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long grown = rss_kb() - before;
    if (!kSanitized) {  // sanitizer shadow memory and quarantine make RSS meaningless there
      EXPECT_LT(grown, 12 * 1024) << "40 stalled 900 kB frames grew RSS by " << grown << " kB";
    }
  });
}

// Issue 10 #12: end of stream, then shutdown(SHUT_WR): every reply still arrives.
TEST(Abuse, HalfCloseAfterEndOfStreamGetsEveryReply) {
  TestServer ts({}, FakeConfig{.delay_ms = 20});
  under_attack(ts, [&] {
    RawWs ws(ts.port);
    ASSERT_TRUE(ws.handshake());
    ws.text(R"({"chunk_size":[5,10,5],"wav_name":"hc"})");
    const auto pcm = tone(16000);
    ws.frame(RawWs::kBinary, pcm.data(), pcm.size() * 2);
    ws.text(R"({"is_speaking":false})");
    ws.shutdown_write();
    uint16_t code = 0;
    auto texts = ws.read_texts(code, 10);
    ASSERT_EQ(texts.size(), 6u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(json::parse(texts[static_cast<std::size_t>(i)])["text"], "p");
    EXPECT_EQ(json::parse(texts[5])["text"], "samples=16000");
    EXPECT_EQ(json::parse(texts[5])["is_final"], true);
  });
}

// Issue 10 #11: a client that keeps streaming through a drain is closed with 1001 at the
// deadline, after the replies it is owed, and wait() returns by then.
TEST(Abuse, DrainDeadlineIsEnforced) {
  ServerConfig cfg;
  cfg.limits.drain_timeout_s = 1;
  TestServer ts(cfg);
  RawWs streaming(ts.port);
  ASSERT_TRUE(streaming.handshake());
  streaming.text(R"({"chunk_size":[5,10,5]})");
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    // Streams until told to stop; gives up (hangs up) after 4 s, so that a server that
    // waits for the client instead of its deadline fails the timing check, not the suite.
    const std::vector<uint8_t> frame(640, 0);
    const auto end = Clock::now() + std::chrono::seconds(4);
    while (!stop && Clock::now() < end && streaming.binary(frame))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!stop) ::shutdown(streaming.fd(), SHUT_RDWR);
  });
  ASSERT_TRUE(TestServer::eventually(
      [&] { return ts.metrics.render_prometheus().find("milliseconds_total 0\n") == std::string::npos; }));
  // As in `serve`: wait() is already blocked when the drain starts (the signal handler).
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    ts.server->wait();
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto t0 = Clock::now();
  ts.server->drain();
  TestServer::eventually([&] { return returned.load(); }, 10);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  waiter.join();
  EXPECT_LT(took, 1.5);
  EXPECT_GT(took, 0.5);
  uint16_t code = 0;
  auto texts = streaming.read_texts(code, 5);
  stop = true;
  sender.join();
  EXPECT_FALSE(texts.empty());  // the partials it was owed
  for (auto& t : texts) EXPECT_EQ(json::parse(t)["text"], "p");
  EXPECT_EQ(code, 1001);
}

TEST(Abuse, DrainUnderLoad) {
  ServerConfig cfg;
  cfg.limits.drain_timeout_s = 3;
  TestServer ts(cfg, FakeConfig{.delay_ms = 1});
  std::vector<std::future<ClientUtterance>> clients;
  for (int i = 0; i < 8; ++i)
    clients.push_back(std::async(std::launch::async, [&ts, i] {
      ClientConnection c;
      auto o = ts.client(true);
      o.speed = 8.0;
      c.connect(o);
      return c.stream(tone(32000), 16000, "load" + std::to_string(i));  // 2 s of audio at 8x: 250 ms
    }));
  ASSERT_TRUE(TestServer::eventually([&] { return ts.server->active_sessions() == 8; }));
  // Every client is inside its utterance (2 partials each on average).
  ASSERT_TRUE(TestServer::eventually([&] {
    const std::string m = ts.metrics.render_prometheus();
    const auto at = m.find("paraserve_partial_latency_seconds_count ");
    return at != std::string::npos && std::stoul(m.substr(at + 40)) >= 16;
  }));
  ts.server->drain();
  const auto t0 = Clock::now();
  ts.server->wait();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 3.5);
  for (auto& f : clients) {
    auto u = f.get();
    EXPECT_TRUE(u.got_final) << u.wav_name << ": " << u.error;  // each finished its utterance
    EXPECT_EQ(u.offline_text, "samples=32000") << u.wav_name;
  }
  RawSocket refused(ts.port);
  EXPECT_FALSE(refused.ok());  // the listener is closed
}

// Issue 10 #13: out of file descriptors, the acceptor backs off instead of spinning, and
// logs a bounded number of lines.
TEST(Abuse, AcceptBacksOffWhenOutOfFileDescriptors) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  spdlog::set_level(spdlog::level::info);
  {
    TestServer ts;
    // Sockets made while descriptors are still available; connected after the limit drops.
    std::vector<int> fds;
    for (int i = 0; i < 40; ++i) fds.push_back(::socket(AF_INET, SOCK_STREAM, 0));
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd)
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    rlimit old{};
    ::getrlimit(RLIMIT_NOFILE, &old);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(highest + 1);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    std::vector<int> fillers;  // take every free descriptor below the limit
    for (int fd = ::dup(0); fd >= 0; fd = ::dup(0)) fillers.push_back(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(ts.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int fd : fds) ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);  // queued in the backlog
    rusage r0{}, r1{};
    ::getrusage(RUSAGE_SELF, &r0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ::getrusage(RUSAGE_SELF, &r1);
    for (int fd : fillers) ::close(fd);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    auto cpu = [](const rusage& r) {
      return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
             static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    };
    const double cpu_s = cpu(r1) - cpu(r0);
    EXPECT_LT(cpu_s, 0.3) << "CPU seconds spent in 1 s while out of descriptors";
    spdlog::default_logger()->flush();
    const std::string text = log.str();
    std::size_t lines = 0;
    for (auto at = text.find("accept failed"); at != std::string::npos; at = text.find("accept failed", at + 1)) ++lines;
    EXPECT_GE(lines, 1u);
    EXPECT_LE(lines, 5u) << text.substr(0, 2000);
    // Descriptors are back: the queued connections are served and the server works.
    EXPECT_TRUE(TestServer::eventually([&] { return ts.server->active_sessions() == 0; }));
    for (int fd : fds) ::close(fd);
    EXPECT_EQ(witness(ts.port).size(), 18u);
  }
  spdlog::set_default_logger(previous);
}

TEST(RateLimitedLog, BurstThenSuppressedCount) {
  RateLimitedLog limiter(std::chrono::seconds(10), 3);
  const auto t = RateLimitedLog::Clock::now();
  uint64_t dropped = 99;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.admit(dropped, t));
    EXPECT_EQ(dropped, 0u);
  }
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.admit(dropped, t));
  EXPECT_EQ(limiter.dropped(), 1000u);
  EXPECT_TRUE(limiter.admit(dropped, t + std::chrono::seconds(11)));
  EXPECT_EQ(dropped, 1000u);
}
