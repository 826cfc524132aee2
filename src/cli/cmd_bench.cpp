// `paraserve bench`: network-free benchmarks of the engine.
//   bench stream  : N StreamSessions fed 800-sample pieces as fast as possible on W worker
//                   threads; RTF per stream, partial-result latency, optional capacity search.
//   bench offline : offline transcription RTF on 1 and N threads, fp32 and int8.
// Prints figures only (no pass/fail).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/runtime_settings.h"
#include "common/error.h"
#include "frontend/audio_file.h"
#include "observability/memtrace.h"
#include "pipeline/engine.h"
#include "pipeline/session.h"
#include "pipeline/transcriber.h"

namespace paraserve::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string models;
  std::string quantize = "true";
  std::string audio;
  int streams = 4;
  int workers = 1;
  double seconds = 30;
  bool search = false;
  int threads = 2;
  std::string memtrace;  // record the server's ledger events per stream into this file
  int ledger_ab = 0;     // > 0: alternate ledger off/on this many times, report the throughput ratio
  RuntimeSettings runtime;  // same allocator / ORT settings as `serve`
};

// Applies the shared engine settings and prints them, so every figure below names them.
void apply_engine_settings(const BenchArgs& a) {
  std::string warning;
  std::printf("%s\n", apply_runtime_settings(a.runtime, warning).c_str());
  if (!warning.empty()) std::printf("  warning: %s\n", warning.c_str());
}

// Process CPU seconds and minor page faults so far (all threads).
struct ProcessCost {
  double cpu_s = 0;
  long minflt = 0;
  static ProcessCost now() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return {sec(ru.ru_utime) + sec(ru.ru_stime), ru.ru_minflt};
  }
};

EngineConfig engine_config(const BenchArgs& a, const std::string& quant, bool streaming) {
  namespace fs = std::filesystem;
  auto sub = [&](const char* name) {
    std::string p = a.models + "/" + name;
    return fs::is_directory(p) ? p : std::string();
  };
  EngineConfig c;
  c.vad_dir = sub("vad");
  c.online_model_dir = streaming ? sub("online") : std::string();
  c.offline_model_dir = sub("offline");
  c.punc_dir = sub("punc");
  c.quantize = c.vad_quant = c.punc_quant = quant;
  c.ort = a.runtime.ort;
  if (c.offline_model_dir.empty()) throw Error(a.models + ": expected a model set with vad/, online/, offline/, punc/ subfolders");
  return c;
}

// Speech-like test signal when no --audio is given: 3 s of harmonic bursts, 1.5 s of quiet.
std::vector<float> synth_audio(double seconds) {
  const std::size_t n = static_cast<std::size_t>(seconds * 16000);
  std::vector<float> x(n);
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.f, 1.f);
  const float freqs[] = {279.f, 400.f, 536.f, 760.f, 1000.f, 1400.f, 2000.f, 2800.f};
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    const bool speech = std::fmod(t, 4.5) < 3.0 && std::fmod(t, 0.36) < 0.24;
    float v = 0.002f * noise(rng);
    if (speech) v += 0.4f * static_cast<float>(std::sin(2 * M_PI * freqs[static_cast<std::size_t>(t / 0.36) % 8] * t));
    x[i] = v;
  }
  return x;
}

std::vector<int16_t> to_pcm(const std::vector<float>& x) {
  std::vector<int16_t> p(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) p[i] = static_cast<int16_t>(std::clamp(x[i], -1.f, 1.f) * 32767.f);
  return p;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

struct StreamRun {
  std::vector<double> rtf;         // per stream: wall time to finish / audio duration
  std::vector<double> latency_ms;  // compute time of feed() calls that produced a partial
  double wall_s = 0;
};

// The same ledger events per stream as the server's connection code (src/server/connection.cpp).
struct BenchLedgerObserver final : SessionObserver {
  LedgerSession* ledger = nullptr;
  void on_vad_end(int64_t ms) noexcept override { ledger->record(Phase::kVadEnd, {.segment_ms = ms}); }
  void on_offline_start(int64_t ms) noexcept override { ledger->record(Phase::kOfflineStart, {.segment_ms = ms}); }
};

StreamRun run_streams(const std::shared_ptr<const Engine>& engine, const std::vector<int16_t>& pcm, int streams,
                      int workers, MemoryLedger* ledger = nullptr) {
  StreamRun r;
  r.rtf.assign(static_cast<std::size_t>(streams), 0);
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(workers));
  const double audio_s = static_cast<double>(pcm.size()) / 16000.0;
  const auto t0 = Clock::now();
  auto worker = [&](int w) {
    std::vector<std::unique_ptr<StreamSession>> mine;
    std::vector<int> ids;
    const std::size_t count = static_cast<std::size_t>((streams - w + workers - 1) / workers);
    std::vector<LedgerSession> ls(count);  // sized once: observers point into it
    std::vector<BenchLedgerObserver> obs(count);
    for (int i = w; i < streams; i += workers) {
      const std::size_t k = mine.size();
      SessionOptions o;
      if (ledger) {
        ls[k] = LedgerSession(ledger, static_cast<uint64_t>(i) + 1);
        obs[k].ledger = &ls[k];
        o.observer = &obs[k];
      }
      ls[k].record(Phase::kConnOpen);
      mine.push_back(std::make_unique<StreamSession>(engine, o));
      ids.push_back(i);
    }
    std::vector<StreamResult> out;
    for (std::size_t pos = 0; pos < pcm.size(); pos += 800) {
      const std::size_t n = std::min<std::size_t>(800, pcm.size() - pos);
      for (std::size_t k = 0; k < mine.size(); ++k) {
        auto& s = mine[k];
        out.clear();
        const auto a = Clock::now();
        if (pos == 0) ls[k].record(Phase::kFirstAudio, {.bytes = static_cast<int64_t>(n * 2)});
        s->feed(std::span<const int16_t>(pcm.data() + pos, n), out);
        ls[k].chunk({.audio_ms = static_cast<int64_t>((pos + n) / 16), .bytes = static_cast<int64_t>(n * 2),
                     .state_bytes = ledger ? static_cast<int64_t>(s->state_bytes()) : -1});
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - a).count();
        for (const auto& res : out) {
          if (!res.online_text.empty()) lat[static_cast<std::size_t>(w)].push_back(ms);
          if (res.has_offline) ls[k].record(Phase::kOfflineEnd);
        }
      }
    }
    for (std::size_t k = 0; k < mine.size(); ++k) {
      out.clear();
      mine[k]->finish(out);
      ls[k].record(Phase::kFinalSent, {.state_bytes = ledger ? static_cast<int64_t>(mine[k]->state_bytes()) : -1});
      mine[k].reset();
      ls[k].record(Phase::kConnClose);
      r.rtf[static_cast<std::size_t>(ids[k])] = std::chrono::duration<double>(Clock::now() - t0).count() / audio_s;
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(worker, w);
  for (auto& t : pool) t.join();
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& l : lat) r.latency_ms.insert(r.latency_ms.end(), l.begin(), l.end());
  return r;
}

// Ledger overhead in one process: alternates runs with the ledger off and on (default
// sampling, every chunk recorded), reports throughput (audio seconds decoded per wall second)
// of each and the median on/off ratio. Alternating cancels slow drift in machine load.
int ledger_ab(const BenchArgs& a, const std::shared_ptr<const Engine>& engine, const std::vector<int16_t>& pcm) {
  LedgerConfig lc;
  lc.path = a.memtrace.empty() ? std::string("/dev/null") : a.memtrace;
  lc.validate();
  const double audio_s = static_cast<double>(pcm.size()) / 16000.0 * a.streams;
  run_streams(engine, pcm, a.streams, a.workers);  // warm-up (first-run allocations, caches)
  // Process CPU time (all threads, the ledger's writer included) is reported next to wall
  // time: on a shared machine it is the figure that other processes do not disturb.
  auto cpu_s = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  std::vector<double> off, on, ratio, cpu_ratio;
  uint64_t events = 0, dropped = 0;
  for (int i = 0; i < a.ledger_ab; ++i) {
    double c0 = cpu_s();
    const double t_off = run_streams(engine, pcm, a.streams, a.workers).wall_s;
    const double c_off = cpu_s() - c0;
    MemoryLedger ledger(lc);
    c0 = cpu_s();
    const auto w0 = Clock::now();
    run_streams(engine, pcm, a.streams, a.workers, &ledger);
    ledger.flush();  // the writer's work belongs to the run
    const double t_on = std::chrono::duration<double>(Clock::now() - w0).count();
    const double c_on = cpu_s() - c0;
    events += ledger.written();
    dropped += ledger.dropped();
    off.push_back(audio_s / t_off);
    on.push_back(audio_s / t_on);
    ratio.push_back(t_off / t_on);
    cpu_ratio.push_back(c_off / c_on);
    std::printf("  round %d: wall: off %.2f, on %.2f x real time, on/off %.4f; CPU: off %.3f s, on %.3f s, on/off "
                "throughput %.4f\n",
                i + 1, off.back(), on.back(), ratio.back(), c_off, c_on, cpu_ratio.back());
    std::fflush(stdout);
  }
  std::printf("  ledger overhead: median throughput on/off = %.4f (%+.2f %%) by wall time, %.4f (%+.2f %%) by CPU "
              "time; median off %.2f, on %.2f x real time; %llu events written, %llu dropped\n",
              percentile(ratio, 0.5), (percentile(ratio, 0.5) - 1) * 100, percentile(cpu_ratio, 0.5),
              (percentile(cpu_ratio, 0.5) - 1) * 100, percentile(off, 0.5), percentile(on, 0.5),
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(dropped));
  return 0;
}

int bench_stream(const BenchArgs& a) {
  if (a.streams < 1 || a.workers < 1 || a.seconds <= 0) throw Error("bench stream: --streams, --workers >= 1 and --seconds > 0");
  apply_engine_settings(a);
  auto engine = load_engine(engine_config(a, a.quantize, true));
  purge_after_load();  // as serve does: the models' load-time temporaries are not the bench's memory
  std::vector<float> audio = a.audio.empty() ? synth_audio(a.seconds) : decode_audio_file(a.audio).samples;
  if (!a.audio.empty()) audio.resize(std::min(audio.size(), static_cast<std::size_t>(a.seconds * 16000)));
  const auto pcm = to_pcm(audio);
  std::printf("bench stream: models %s (quantize=%s), %d streams, %d workers, %.1f s audio each\n", a.models.c_str(),
              a.quantize.c_str(), a.streams, a.workers, static_cast<double>(pcm.size()) / 16000.0);
  if (a.ledger_ab > 0) return ledger_ab(a, engine, pcm);
  std::unique_ptr<MemoryLedger> ledger;
  if (!a.memtrace.empty()) {
    LedgerConfig lc;
    lc.path = a.memtrace;
    apply_ledger_env(lc);
    lc.validate();
    ledger = std::make_unique<MemoryLedger>(lc);
  }
  const ProcessCost c0 = ProcessCost::now();
  StreamRun r = run_streams(engine, pcm, a.streams, a.workers, ledger.get());
  const ProcessCost c1 = ProcessCost::now();
  const double audio_total_s = static_cast<double>(pcm.size()) / 16000.0 * a.streams;
  if (ledger) {
    ledger->flush();
    std::printf("  ledger: %s, %llu events written, %llu dropped\n", a.memtrace.c_str(),
                static_cast<unsigned long long>(ledger->written()), static_cast<unsigned long long>(ledger->dropped()));
  }
  for (std::size_t i = 0; i < r.rtf.size(); ++i) std::printf("  stream %3zu  RTF %.4f\n", i, r.rtf[i]);
  std::printf("  max RTF %.4f\n", *std::max_element(r.rtf.begin(), r.rtf.end()));
  std::printf("  cost: %.2f audio s per CPU s, %.0f minor page faults per audio s (%.1f audio s, %.2f CPU s)\n",
              audio_total_s / std::max(1e-9, c1.cpu_s - c0.cpu_s),
              static_cast<double>(c1.minflt - c0.minflt) / audio_total_s, audio_total_s, c1.cpu_s - c0.cpu_s);
  std::printf("  partial latency (engine compute per piece with a partial): p50 %.2f ms, p95 %.2f ms (%zu partials)\n",
              percentile(r.latency_ms, 0.5), percentile(r.latency_ms, 0.95), r.latency_ms.size());
  if (a.search) {
    // Largest N with every stream at RTF <= 1 on these workers: doubling, then bisection.
    auto ok = [&](int n) {
      StreamRun s = run_streams(engine, pcm, n, a.workers);
      const double m = *std::max_element(s.rtf.begin(), s.rtf.end());
      std::printf("  search: %4d streams -> max RTF %.3f\n", n, m);
      std::fflush(stdout);
      return m <= 1.0;
    };
    int lo = 0, hi = 1;
    while (hi <= 4096 && ok(hi)) {
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const int mid = (lo + hi) / 2;
      (ok(mid) ? lo : hi) = mid;
    }
    std::printf("  capacity: %d real-time streams on %d workers = %.1f streams per core\n", lo, a.workers,
                static_cast<double>(lo) / a.workers);
  }
  return 0;
}

int bench_offline(const BenchArgs& a) {
  if (a.threads < 1 || a.seconds <= 0) throw Error("bench offline: --threads >= 1 and --seconds > 0");
  apply_engine_settings(a);
  std::vector<float> audio = a.audio.empty() ? synth_audio(a.seconds) : decode_audio_file(a.audio).samples;
  const double dur = static_cast<double>(audio.size()) / 16000.0;
  std::printf("bench offline: models %s, %.1f s audio per job\n", a.models.c_str(), dur);
  std::printf("  %-6s %-8s %-10s %s\n", "model", "threads", "RTF", "x real time");
  for (const std::string quant : {"false", "true"}) {
    std::shared_ptr<const Engine> engine;
    try {
      engine = load_engine(engine_config(a, quant, false));
      purge_after_load();
    } catch (const Error& e) {
      std::printf("  %-6s (skipped: %s)\n", quant == "true" ? "int8" : "fp32", e.what());
      continue;
    }
    Transcriber tr(engine);
    for (int n : {1, a.threads}) {
      const auto t0 = Clock::now();
      std::vector<std::thread> pool;
      for (int i = 0; i < n; ++i) pool.emplace_back([&] { tr.transcribe(audio); });
      for (auto& t : pool) t.join();
      const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      const double rtf = wall / (dur * n);
      std::printf("  %-6s %-8d %-10.4f %.1f\n", quant == "true" ? "int8" : "fp32", n, rtf, rtf > 0 ? 1.0 / rtf : 0.0);
      if (n == a.threads) break;
    }
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Network-free benchmarks (streaming sessions, offline transcription)");
  bench->require_subcommand(1);

  auto sa = std::make_shared<BenchArgs>();
  auto* st = bench->add_subcommand("stream", "N streaming 2pass sessions on W worker threads, as fast as possible");
  st->add_option("--models", sa->models, "model set folder with vad/ online/ offline/ punc/")->required();
  st->add_option("--quantize", sa->quantize, "load *_quant.onnx (only exactly 'true')")->capture_default_str();
  st->add_option("--streams", sa->streams, "concurrent sessions")->capture_default_str();
  st->add_option("--workers", sa->workers, "worker threads")->capture_default_str();
  st->add_option("--seconds", sa->seconds, "audio seconds per stream")->capture_default_str();
  st->add_option("--audio", sa->audio, "audio file to stream (default: synthetic tone speech)");
  st->add_flag("--search", sa->search, "also search the largest real-time stream count");
  st->add_option("--memtrace", sa->memtrace, "record the server's memory-ledger events per stream to this file");
  st->add_option("--ledger-ab", sa->ledger_ab, "alternate ledger off/on N times and report the throughput ratio");
  add_runtime_options(st, sa->runtime, "--model-threads");
  st->add_option("--ort-profile", sa->runtime.ort.profile_prefix,
                 "write ONNX Runtime's profile, one JSON per model session, to PREFIX<model>_<time>.json "
                 "(summary: tools/ort-profile-summary.py)");
  st->callback([sa, &exit_code] { exit_code = bench_stream(*sa); });

  auto oa = std::make_shared<BenchArgs>();
  auto* of = bench->add_subcommand("offline", "offline transcription RTF, 1 and N threads, fp32 and int8");
  of->add_option("--models", oa->models, "model set folder with vad/ offline/ punc/ (online/ optional)")->required();
  of->add_option("--threads", oa->threads, "parallel jobs for the N-thread row")->capture_default_str();
  of->add_option("--seconds", oa->seconds, "audio seconds per job")->capture_default_str();
  of->add_option("--audio", oa->audio, "audio file (default: synthetic tone speech)");
  add_runtime_options(of, oa->runtime, "--model-threads");
  of->callback([oa, &exit_code] { exit_code = bench_offline(*oa); });
}

}  // namespace paraserve::cli
