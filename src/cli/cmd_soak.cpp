// `paraserve soak`: drives a running `paraserve serve` over loopback with many short
// sessions (connect/disconnect churn, some connections reused for several utterances) and
// samples the server's RSS from /proc/<pid>/statm, to show whether memory stays flat.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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
  std::string label;         // plot title / summary label (e.g. "jemalloc, tiny")
  std::string summary_json;  // one JSON object with the figures and target verdicts

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

// The server's paraserve_runtime_info line from /metrics (allocator and ONNX Runtime
// settings in force), so every soak report names what it measured; empty if unavailable.
std::string server_runtime_info(const std::string& host, int port) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    const std::string& body = res.body();
    const std::string key = "paraserve_runtime_info{";
    const std::size_t at = body.find(key);
    if (at == std::string::npos) return {};
    const std::size_t end = body.find('}', at);
    return end == std::string::npos ? std::string() : body.substr(at + key.size(), end - at - key.size());
  } catch (const std::exception&) {
    return {};
  }
}

void write_outputs(const SoakArgs& a, const std::vector<Sample>& samples, double baseline_t, int64_t baseline_kb) {
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
               "set title '%s'\nset xlabel 'time (s)'\nset ylabel 'server RSS (MiB)'\nset y2label 'sessions done'\n"
               "set y2tics\nset ytics nomirror\nset key left top\nset grid\n"
               "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2\n"
               "set arrow from graph 0, first %.3f to graph 1, first %.3f nohead dt 3 lc rgb 'gray'\n"
               "plot '%s' every ::1 using 1:($2/1024) with lines lw 2 title 'RSS', "
               "'' every ::1 using 1:3 axes x1y2 with lines dt 3 title 'sessions done'\n",
               a.png.c_str(), a.label.empty() ? "paraserve soak" : a.label.c_str(), baseline_t, baseline_t,
               baseline_kb / 1024.0, baseline_kb / 1024.0, a.csv.c_str());
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
  const auto start = std::chrono::steady_clock::now();
  auto now_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::mutex err_mu;
  std::string first_error;
  const int64_t total = a.sessions;

  auto finish_one = [&](const server::ClientUtterance& u) {
    if (!u.error.empty() || !u.got_final) {
      ++failed;
      std::lock_guard lock(err_mu);
      if (first_error.empty()) first_error = u.error.empty() ? "no final reply" : u.error;
    }
    ++done;
  };
  // Sessions [next, end) on `concurrency` connections at a time; returns when all are done.
  auto run_sessions = [&](int64_t end) {
    std::vector<std::thread> workers;
    for (int w = 0; w < a.concurrency; ++w)
      workers.emplace_back([&] {
        for (;;) {
          int64_t conn_no = connections++;
          int per_conn = (a.reuse_every > 0 && conn_no % a.reuse_every == 0) ? a.reuse_count : 1;
          int64_t first = next.fetch_add(per_conn);
          if (first >= end) {
            next.store(end);  // a later phase starts exactly here
            return;
          }
          ++opened;
          int64_t last = std::min<int64_t>(first + per_conn, end);
          try {
            server::ClientConnection c;
            c.connect(opt);
            for (int64_t s = first; s < last; ++s)
              finish_one(c.stream(audio.samples, audio.sample_rate, "soak-" + std::to_string(s)));
            c.close();
          } catch (const std::exception& e) {
            for (int64_t s = first; s < last; ++s) {
              server::ClientUtterance u;
              u.error = e.what();
              finish_one(u);
            }
          }
        }
      });
    for (auto& t : workers) t.join();
  };
  auto settle = [&] { std::this_thread::sleep_for(std::chrono::duration<double>(a.settle_s)); };

  const int64_t idle_kb = read_rss_kb(a.pid);  // before any session: models loaded, nothing else
  RssSampler sampler(a.pid, a.sample_ms, done);
  // Warm-up, then the warm baseline with no session open (after --settle seconds).
  int64_t base = idle_kb;
  double measure_t = 0;
  if (a.warmup > 0) {
    run_sessions(a.warmup);
    settle();
    base = read_rss_kb(a.pid);
  }
  measure_t = now_s();
  const ProcessCounters cost0 = read_process_counters(a.pid);
  run_sessions(total);
  const double end_t = now_s();
  const ProcessCounters cost1 = read_process_counters(a.pid);
  const int64_t after_kb = read_rss_kb(a.pid);
  settle();
  const int64_t settled_kb = read_rss_kb(a.pid);
  sampler.stop();
  std::vector<Sample> samples = sampler.samples();

  int64_t peak = std::max(after_kb, settled_kb);
  for (const Sample& s : samples) peak = std::max(peak, s.rss_kb);
  // Growth under load: mean RSS over the last tenth of the measured sessions minus the mean
  // over the first tenth (both at full concurrency), so open sessions cancel out.
  const int64_t measured = total - a.warmup;
  double first_sum = 0, last_sum = 0;
  int first_n = 0, last_n = 0;
  for (const Sample& s : samples) {
    if (s.t_s < measure_t || s.t_s > end_t || s.rss_kb < 0) continue;
    const int64_t k = s.sessions_done - a.warmup;
    if (k < measured / 10) first_sum += double(s.rss_kb), ++first_n;
    else if (k >= measured - measured / 10) last_sum += double(s.rss_kb), ++last_n;
  }
  const double load_growth_kb = first_n > 0 && last_n > 0 ? last_sum / last_n - first_sum / first_n : 0.0;
  const double run_s = end_t - measure_t;
  std::printf("soak: %lld sessions (%lld failed) over %lld connections, concurrency %d, speed %g; measured phase %.1f s\n",
              (long long)total, (long long)failed.load(), (long long)opened.load(), a.concurrency, a.speed, run_s);
  std::printf("idle RSS before the first session:     %lld kB\n", (long long)idle_kb);
  std::printf("warm baseline (%d sessions, %.0f s idle): %lld kB\n", a.warmup, a.settle_s, (long long)base);
  std::printf("RSS right after the last close:        %lld kB\n", (long long)after_kb);
  std::printf("RSS %.0f s after the last close:         %lld kB\n", a.settle_s, (long long)settled_kb);
  std::printf("peak RSS (sampled every %d ms):        %lld kB\n", a.sample_ms, (long long)peak);
  // Issue 6 targets: growth over the measured sessions <= 4 MB (idle to idle, and under load
  // from the first to the last tenth); settled RSS within 3 % of the warm baseline;
  // (peak - idle) / concurrency <= 2 MB.
  const int64_t growth_kb = settled_kb - base;
  const double settle_pct = base > 0 ? 100.0 * double(settled_kb - base) / double(base) : 0.0;
  const double per_session_kb = double(peak - idle_kb) / a.concurrency;
  const bool ok_growth = growth_kb <= 4096 && load_growth_kb <= 4096;
  const bool ok_settle = std::abs(settle_pct) <= 3.0, ok_peak = per_session_kb <= 2048;
  std::printf("growth over %lld measured sessions:     idle-to-idle %lld kB, under load %.0f kB (target <= 4096: %s)\n",
              (long long)measured, (long long)growth_kb, load_growth_kb, ok_growth ? "ok" : "MISSED");
  std::printf("settled vs warm baseline:              %+.2f %% (target within 3 %%: %s)\n", settle_pct,
              ok_settle ? "ok" : "MISSED");
  std::printf("(peak - idle) / concurrency:           %.0f kB (target <= 2048: %s)\n", per_session_kb,
              ok_peak ? "ok" : "MISSED");
  // Cost of the measured sessions (issue 9): memory figures are only meaningful next to
  // the CPU and page faults they cost.
  const double audio_s = static_cast<double>(measured - failed.load()) * static_cast<double>(audio.samples.size()) /
                         static_cast<double>(audio.sample_rate);
  const double cpu_s = cost1.cpu_s - cost0.cpu_s;
  const double audio_per_cpu = cpu_s > 0 ? audio_s / cpu_s : 0.0;
  const double faults_per_audio = audio_s > 0 ? double(cost1.minor_faults - cost0.minor_faults) / audio_s : 0.0;
  const double vol_per_audio = audio_s > 0 ? double(cost1.voluntary_switches - cost0.voluntary_switches) / audio_s : 0.0;
  const double invol_per_audio =
      audio_s > 0 ? double(cost1.involuntary_switches - cost0.involuntary_switches) / audio_s : 0.0;
  std::printf("server cost over the measured sessions: %.1f audio s in %.1f server CPU s = %.2f audio s per CPU s\n",
              audio_s, cpu_s, audio_per_cpu);
  std::printf("  minor page faults per audio s:       %.1f\n", faults_per_audio);
  std::printf("  context switches per audio s:        %.1f voluntary, %.1f involuntary\n", vol_per_audio,
              invol_per_audio);
  std::printf("  wall throughput:                     %.2f x real time\n", run_s > 0 ? audio_s / run_s : 0.0);
  const std::string runtime = server_runtime_info(a.host, a.port);
  std::printf("server engine settings: %s\n", runtime.empty() ? "(not reported: no paraserve_runtime_info on /metrics)"
                                                               : runtime.c_str());
  if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
  if (!a.summary_json.empty()) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(a.summary_json.c_str(), "w"), std::fclose);
    if (!f) throw Error("soak: --summary-json: cannot write '" + a.summary_json + "'");
    std::fprintf(f.get(),
                 "{\"label\":\"%s\",\"sessions\":%lld,\"warmup\":%d,\"failed\":%lld,\"concurrency\":%d,"
                 "\"idle_kb\":%lld,\"baseline_kb\":%lld,\"after_kb\":%lld,\"peak_kb\":%lld,\"settled_kb\":%lld,"
                 "\"growth_kb\":%lld,\"load_growth_kb\":%.0f,\"settle_pct\":%.3f,\"peak_per_session_kb\":%.1f,"
                 "\"seconds\":%.1f,\"audio_s\":%.1f,\"server_cpu_s\":%.2f,\"audio_s_per_cpu_s\":%.3f,"
                 "\"minor_faults_per_audio_s\":%.1f,\"voluntary_switches_per_audio_s\":%.1f,"
                 "\"involuntary_switches_per_audio_s\":%.1f,\"ok_growth\":%s,\"ok_settle\":%s,\"ok_peak\":%s}\n",
                 a.label.c_str(), (long long)total, a.warmup, (long long)failed.load(), a.concurrency,
                 (long long)idle_kb, (long long)base, (long long)after_kb, (long long)peak, (long long)settled_kb,
                 (long long)growth_kb, load_growth_kb, settle_pct, per_session_kb, run_s, audio_s, cpu_s,
                 audio_per_cpu, faults_per_audio, vol_per_audio, invol_per_audio,
                 ok_growth ? "true" : "false", ok_settle ? "true" : "false", ok_peak ? "true" : "false");
  }
  write_outputs(a, samples, measure_t, base);
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
  sub->add_option("--warmup", a->warmup, "Warm-up sessions; the baseline RSS is read --settle s after they all closed")->capture_default_str();
  sub->add_option("--speed", a->speed, "Real-time pacing multiplier (0 = as fast as possible)")->capture_default_str();
  sub->add_option("--reuse-every", a->reuse_every, "Every Nth connection streams several utterances (0 = never)")->capture_default_str();
  sub->add_option("--reuse-count", a->reuse_count, "Utterances on a reused connection")->capture_default_str();
  sub->add_option("--mode", a->mode, "online | offline | 2pass")->capture_default_str();
  sub->add_option("--sample-ms", a->sample_ms, "RSS sampling period")->capture_default_str();
  sub->add_option("--settle", a->settle_s, "Seconds to wait after the last close before the final RSS reading")->capture_default_str();
  sub->add_option("--csv", a->csv, "RSS series output (empty = none)")->capture_default_str();
  sub->add_option("--png", a->png, "Plot output via gnuplot (empty = none)")->capture_default_str();
  sub->add_option("--label", a->label, "Plot title and summary label (e.g. 'jemalloc, tiny models')");
  sub->add_option("--summary-json", a->summary_json, "Write the figures and target verdicts as one JSON object");
  sub->callback([a, &exit_code] { exit_code = run_soak(*a); });
}

}  // namespace paraserve::cli
