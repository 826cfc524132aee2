// `paraserve soak`: drives a running `paraserve serve` over loopback with many short
// sessions (connect/disconnect churn, some connections reused for several utterances) and
// samples the server's RSS from /proc/<pid>/statm, to show whether memory stays flat.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "observability/process_stats.h"
#include "server/client.h"

namespace paraserve::cli {
namespace {

struct SoakArgs {
  std::string host = "127.0.0.1";
  int port = 10095;
  int pid = 0;
  std::string wav;
  int sessions = 200;
  int concurrency = 4;
  int warmup = 20;
  double speed = 1.0;  // 0 = as fast as possible
  int reuse_every = 4;   // every Nth connection streams several utterances
  int reuse_count = 3;   // utterances on such a connection
  std::string mode = "2pass";
  int sample_ms = 500;
  double settle_s = 10;
  std::string csv = "soak-rss.csv";
  std::string png = "soak-rss.png";

  void validate() const {
    if (pid <= 0) throw Error("soak: --pid: the server's process id is required (> 0)");
    if (read_rss_kb(pid) < 0) throw Error("soak: --pid " + std::to_string(pid) + ": no such process (cannot read /proc/<pid>/statm)");
    if (sessions < 1) throw Error("soak: --sessions must be >= 1");
    if (concurrency < 1 || concurrency > 1024) throw Error("soak: --concurrency must be in [1, 1024]");
    if (warmup < 0 || warmup >= sessions) throw Error("soak: --warmup must be in [0, sessions)");
    if (speed < 0) throw Error("soak: --speed must be >= 0 (0 = as fast as possible)");
    if (reuse_every < 0 || reuse_count < 1) throw Error("soak: --reuse-every must be >= 0 and --reuse-count >= 1");
    if (sample_ms < 10) throw Error("soak: --sample-ms must be >= 10");
    if (settle_s < 0) throw Error("soak: --settle must be >= 0");
    if (port < 1 || port > 65535) throw Error("soak: --port must be in [1, 65535]");
  }
};

struct Sample {
  double t_s;
  int64_t rss_kb;
  int64_t sessions_done;
};

// Samples RSS of the server at a fixed period into a pre-sized series.
class RssSampler {
 public:
  RssSampler(int pid, int period_ms, std::atomic<int64_t>& done) : pid_(pid), period_(period_ms), done_(done) {
    samples_.reserve(1 << 16);
    thread_ = std::thread([this] { loop(); });
  }
  ~RssSampler() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sample> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  void loop() {
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    for (;;) {
      double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (samples_.size() < samples_.capacity())  // bounded: ~9 h at 500 ms
        samples_.push_back({t, read_rss_kb(pid_), done_.load()});
      if (cv_.wait_for(lock, std::chrono::milliseconds(period_), [&] { return stop_; })) return;
    }
  }
  int pid_, period_;
  std::atomic<int64_t>& done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<Sample> samples_;
  std::thread thread_;
};

void write_outputs(const SoakArgs& a, const std::vector<Sample>& samples, double baseline_t) {
  if (!a.csv.empty()) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(a.csv.c_str(), "w"), std::fclose);
    if (!f) throw Error("soak: --csv: cannot write '" + a.csv + "'");
    std::fprintf(f.get(), "t_s,rss_kb,sessions_done\n");
    for (const Sample& s : samples)
      std::fprintf(f.get(), "%.3f,%lld,%lld\n", s.t_s, (long long)s.rss_kb, (long long)s.sessions_done);
  }
  if (a.csv.empty() || a.png.empty()) return;
  std::unique_ptr<FILE, int (*)(FILE*)> gp(::popen("gnuplot", "w"), ::pclose);
  if (!gp) {
    std::fprintf(stderr, "paraserve soak: gnuplot not available; no plot written\n");
    return;
  }
  std::fprintf(gp.get(),
               "set terminal pngcairo size 1000,500\nset output '%s'\nset datafile separator ','\n"
               "set xlabel 'time (s)'\nset ylabel 'server RSS (MiB)'\nset y2label 'sessions done'\n"
               "set y2tics\nset ytics nomirror\nset key left top\nset grid\n"
               "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2\n"
               "plot '%s' every ::1 using 1:($2/1024) with lines lw 2 title 'RSS', "
               "'' every ::1 using 1:3 axes x1y2 with lines dt 3 title 'sessions done'\n",
               a.png.c_str(), baseline_t, baseline_t, a.csv.c_str());
}

int run_soak(const SoakArgs& a) {
  a.validate();
  server::PcmAudio audio = server::read_audio_file(a.wav);
  server::ClientOptions opt;
  opt.host = a.host;
  opt.port = static_cast<uint16_t>(a.port);
  opt.mode = a.mode;
  opt.realtime = a.speed > 0;
  opt.speed = a.speed > 0 ? a.speed : 1.0;

  std::atomic<int64_t> next{0}, done{0}, failed{0}, connections{0}, opened{0};
  std::atomic<int64_t> baseline_kb{-1};
  std::atomic<double> baseline_t{0};
  const auto start = std::chrono::steady_clock::now();
  std::mutex err_mu;
  std::string first_error;
  const int64_t total = a.sessions;

  RssSampler sampler(a.pid, a.sample_ms, done);
  auto finish_one = [&](const server::ClientUtterance& u) {
    if (!u.error.empty() || !u.got_final) {
      ++failed;
      std::lock_guard lock(err_mu);
      if (first_error.empty()) first_error = u.error.empty() ? "no final reply" : u.error;
    }
    if (++done == a.warmup) {
      baseline_kb = read_rss_kb(a.pid);
      baseline_t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < a.concurrency; ++w)
    workers.emplace_back([&] {
      for (;;) {
        int64_t conn_no = connections++;
        int per_conn = (a.reuse_every > 0 && conn_no % a.reuse_every == 0) ? a.reuse_count : 1;
        int64_t first = next.fetch_add(per_conn);
        if (first >= total) return;
        ++opened;
        int64_t last = std::min<int64_t>(first + per_conn, total);
        try {
          server::ClientConnection c;
          c.connect(opt);
          for (int64_t s = first; s < last; ++s)
            finish_one(c.stream(audio.samples, audio.sample_rate, "soak-" + std::to_string(s)));
          c.close();
        } catch (const std::exception& e) {
          for (int64_t s = first; s < last && done < total; ++s) {
            server::ClientUtterance u;
            u.error = e.what();
            finish_one(u);
          }
        }
      }
    });
  for (auto& t : workers) t.join();
  const int64_t after_kb = read_rss_kb(a.pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.settle_s));
  const int64_t settled_kb = read_rss_kb(a.pid);
  sampler.stop();
  std::vector<Sample> samples = sampler.samples();

  int64_t peak = std::max(after_kb, settled_kb);
  for (const Sample& s : samples) peak = std::max(peak, s.rss_kb);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", a.pid);
  const int64_t base = a.warmup == 0 ? (samples.empty() ? -1 : samples.front().rss_kb) : baseline_kb.load();
  const int64_t measured = total - a.warmup;
  std::printf("soak: %lld sessions (%lld failed) over %lld connections, concurrency %d, speed %g\n",
              (long long)total, (long long)failed.load(), (long long)opened.load(),
              a.concurrency, a.speed);
  std::printf("baseline RSS after %d warm-up sessions: %lld kB\n", a.warmup, (long long)base);
  std::printf("RSS after all sessions:                %lld kB\n", (long long)after_kb);
  std::printf("growth per 1,000 sessions:             %.1f kB\n",
              measured > 0 && base >= 0 ? double(after_kb - base) / double(measured) * 1000.0 : 0.0);
  std::printf("peak RSS (sampled every %d ms):        %lld kB\n", a.sample_ms, (long long)peak);
  std::printf("RSS %.0f s after the last close:         %lld kB\n", a.settle_s, (long long)settled_kb);
  if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
  write_outputs(a, samples, baseline_t.load());
  if (!a.csv.empty()) std::printf("RSS series: %s%s%s\n", a.csv.c_str(), a.png.empty() ? "" : ", plot: ", a.png.c_str());
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

void add_soak_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<SoakArgs>();
  auto* sub = app.add_subcommand("soak", "Memory soak: many sessions against a running server, sampling its RSS");
  sub->add_option("--host", a->host, "Server host")->capture_default_str();
  sub->add_option("--port", a->port, "Server port")->capture_default_str();
  sub->add_option("--pid", a->pid, "Server process id (RSS is read from /proc/<pid>/statm)")->required();
  sub->add_option("--wav", a->wav, "Multi-sentence 16-bit PCM WAV streamed by every session")->required();
  sub->add_option("--sessions", a->sessions, "Sessions (utterances) in total")->capture_default_str();
  sub->add_option("--concurrency", a->concurrency, "Concurrent connections")->capture_default_str();
  sub->add_option("--warmup", a->warmup, "Sessions before the baseline RSS is taken")->capture_default_str();
  sub->add_option("--speed", a->speed, "Real-time pacing multiplier (0 = as fast as possible)")->capture_default_str();
  sub->add_option("--reuse-every", a->reuse_every, "Every Nth connection streams several utterances (0 = never)")->capture_default_str();
  sub->add_option("--reuse-count", a->reuse_count, "Utterances on a reused connection")->capture_default_str();
  sub->add_option("--mode", a->mode, "online | offline | 2pass")->capture_default_str();
  sub->add_option("--sample-ms", a->sample_ms, "RSS sampling period")->capture_default_str();
  sub->add_option("--settle", a->settle_s, "Seconds to wait after the last close before the final RSS reading")->capture_default_str();
  sub->add_option("--csv", a->csv, "RSS series output (empty = none)")->capture_default_str();
  sub->add_option("--png", a->png, "Plot output via gnuplot (empty = none)")->capture_default_str();
  sub->callback([a, &exit_code] { exit_code = run_soak(*a); });
}

}  // namespace paraserve::cli
