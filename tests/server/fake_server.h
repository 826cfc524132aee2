// Test helpers shared by the loopback and abuse tests: a scripted recognizer (no models
// needed) and a Server on 127.0.0.1 with it.
#pragma once
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "observability/metrics.h"
#include "server/client.h"
#include "server/server.h"

namespace paraserve::server::testing {

struct FakeConfig {
  int delay_ms = 0;              // sleep per feed() call (a slow decoder)
  std::string partial = "p";     // text of each partial (one per 3200 samples; hotwords "big:N" -> N x's)
  bool report_settings = false;  // final text also names the settings the recognizer was built with
  bool hash = false;             // final text also carries a hash of every sample fed
};

// One partial per 3200 samples; the final reply reports how many samples arrived.
class FakeRecognizer : public Recognizer {
 public:
  FakeRecognizer(const FakeConfig& cfg, const SessionOptions& o) : cfg_(cfg), options_(o) {
    // hotwords "big:N": this session's partials are N bytes long (a client that gets a lot).
    if (o.hotwords.rfind("big:", 0) == 0) cfg_.partial = std::string(std::stoul(o.hotwords.substr(4)), 'x');
  }
  void set_mode(Mode) override {}
  void feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out) override {
    if (cfg_.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.delay_ms));
    fed_ += pcm.size();
    since_ += pcm.size();
    for (int16_t s : pcm) hash_ = (hash_ ^ static_cast<uint16_t>(s)) * 1099511628211ull;
    while (since_ >= 3200) {
      since_ -= 3200;
      StreamResult r;
      r.online_text = cfg_.partial;
      out.push_back(r);
    }
  }
  void finish(std::vector<StreamResult>& out) override {
    StreamResult r;
    r.is_final = true;
    r.has_offline = true;
    r.offline_text = "samples=" + std::to_string(fed_);
    if (cfg_.report_settings) {
      const auto& o = options_;
      r.offline_text += " fs=" + std::to_string(o.sample_rate) + " chunk=" + std::to_string(o.chunk.left) + "," +
                        std::to_string(o.chunk.chunk) + "," + std::to_string(o.chunk.right) + " hw=" + o.hotwords +
                        " itn=" + std::to_string(o.itn) + " fmt=" + o.wav_format;
    }
    if (cfg_.hash) r.offline_text += " hash=" + std::to_string(hash_);
    out.push_back(r);
    fed_ = since_ = 0;
    hash_ = 14695981039346656037ull;
  }
  std::size_t state_bytes() const override { return 0; }

 private:
  FakeConfig cfg_;
  SessionOptions options_;
  uint64_t fed_ = 0, since_ = 0;
  uint64_t hash_ = 14695981039346656037ull;
};

struct TestServer {
  explicit TestServer(ServerConfig cfg = {}, FakeConfig fake = {}) {
    cfg.listen_ip = "127.0.0.1";
    cfg.port = 0;
    ServerDeps deps;
    deps.metrics = &metrics;
    server = std::make_unique<Server>(
        cfg, [fake](const SessionOptions& o) { return std::make_unique<FakeRecognizer>(fake, o); }, deps);
    port = server->start();
    tls = cfg.tls_enabled();
  }
  TestServer(ServerConfig cfg, int delay_ms) : TestServer(cfg, FakeConfig{.delay_ms = delay_ms}) {}
  ClientOptions client(bool realtime = false) const {
    ClientOptions o;
    o.port = port;
    o.ssl = tls;
    o.realtime = realtime;
    o.timeout_s = 20;
    return o;
  }
  // Waits (bounded) until `pred()` holds.
  template <class Pred>
  static bool eventually(Pred pred, double timeout_s = 10) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  bool metric_is(const std::string& line) const {
    const std::string text = metrics.render_prometheus();
    return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
  }
  Metrics metrics;
  std::unique_ptr<Server> server;
  uint16_t port = 0;
  bool tls = false;
};

inline std::vector<int16_t> tone(std::size_t n) {
  std::vector<int16_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<int16_t>((i * 37) % 2000 - 1000);
  return v;
}

// Resident set size of this process (the server runs in it), in kB.
inline long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace paraserve::server::testing
