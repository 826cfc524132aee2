// `paraserve bench`: network-free benchmarks of the engine.
//   bench stream  : N StreamSessions fed 800-sample pieces as fast as possible on W worker
//                   threads; RTF per stream, partial-result latency, optional capacity search.
//   bench offline : offline transcription RTF on 1 and N threads, fp32 and int8.
//   bench batch   : streaming Paraformer encoder / decoder calls batched over B requests:
//                   rows per CPU second and ms per call for each B, ratio to B = 1.
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
#include "models/paraformer_online.h"
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
  // bench batch
  std::string batches = "1,2,4,8,16";
  int frames = 20;  // encoder rows per request: a+b+c of the default chunk_size [5,10,5]
  int tokens = 3;   // decoder rows per request
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


// ---------------------------------------------------------------------------
// bench batch
// ---------------------------------------------------------------------------

std::vector<int> parse_batches(const std::string& list) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const std::size_t end = std::min(list.find(',', pos), list.size());
    const std::string item = list.substr(pos, end - pos);
    int b = 0;
    try {
      std::size_t used = 0;
      b = std::stoi(item, &used);
      if (used != item.size()) b = 0;
    } catch (const std::exception&) {
      b = 0;
    }
    if (b < 1 || b > OnlineParaformerModel::kMaxBatch)
      throw Error("bench batch: --batches item '" + item + "', expected 1.." +
                  std::to_string(OnlineParaformerModel::kMaxBatch));
    out.push_back(b);
    pos = end + 1;
  }
  return out;
}

double process_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  int calls = 0;
  double wall_s = 0, cpu_s = 0;
};

// Calls f() until `seconds` of wall time have passed (at least 3 calls), after one warm-up.
template <class F>
Timing time_calls(double seconds, F&& f) {
  f();
  Timing t;
  const double c0 = process_cpu_s();
  const auto w0 = Clock::now();
  do {
    f();
    ++t.calls;
    t.wall_s = std::chrono::duration<double>(Clock::now() - w0).count();
  } while (t.wall_s < seconds || t.calls < 3);
  t.cpu_s = process_cpu_s() - c0;
  return t;
}

std::vector<float> bench_randn(std::size_t n, unsigned seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

float max_abs_diff(const float* a, const float* b, std::size_t n) {
  float m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

int bench_batch(const BenchArgs& a) {
  const std::vector<int> batches = parse_batches(a.batches);
  if (a.frames < 1 || a.tokens < 1 || a.seconds <= 0)
    throw Error("bench batch: --frames, --tokens >= 1 and --seconds > 0");
  apply_engine_settings(a);
  OrtRuntime rt(a.runtime.ort);
  const std::string dir = a.models + "/online";
  const auto t_load = Clock::now();
  const auto model = OnlineParaformerModel::load(dir, a.quantize, rt);
  const OnlineParaformerModel& m = *model;
  const int maxB = *std::max_element(batches.begin(), batches.end());
  const int T = a.frames, N = a.tokens, D = m.encoder_dim(), V = m.vocab_size(), L = m.num_caches();
  const int mixed_max_n = std::max(4, N);  // the mixed-N decoder rows use N = 1..4 (or up to --tokens)
  std::printf("bench batch: %s (%s, encoder %s), %d s load; T = %d frames, N = %d tokens per request; %.1f s per "
              "point\n",
              dir.c_str(), m.encoder_info().quantized ? "int8" : "fp32", m.batchable() ? "batchable" : "FIXED BATCH",
              static_cast<int>(std::chrono::duration<double>(Clock::now() - t_load).count()), T, N, a.seconds);
  OnlineParaformerModel::BatchScratch scratch(m, {maxB, T, mixed_max_n});
  std::printf("  batch scratch: %.1f MB for B <= %d\n", static_cast<double>(scratch.bytes()) / 1e6, maxB);

  // Per-request inputs and outputs, distinct per request.
  const std::size_t ub = static_cast<std::size_t>(maxB);
  std::vector<std::vector<float>> feats(ub), enc(ub), alphas(ub), embeds(ub), logits(ub), caches(ub);
  std::vector<std::vector<float*>> cache_ptrs(ub);
  const std::size_t cf = static_cast<std::size_t>(m.cache_floats());
  for (std::size_t i = 0; i < ub; ++i) {
    feats[i] = bench_randn(static_cast<std::size_t>(T) * OnlineParaformerModel::kFeatDim, 10 + static_cast<unsigned>(i), 4.0f);
    enc[i].resize(static_cast<std::size_t>(T) * D);
    alphas[i].resize(static_cast<std::size_t>(T));
    embeds[i] = bench_randn(static_cast<std::size_t>(mixed_max_n) * D, 100 + static_cast<unsigned>(i), 1.0f);
    logits[i].resize(static_cast<std::size_t>(mixed_max_n) * V);
    caches[i] = bench_randn(cf * L, 200 + static_cast<unsigned>(i), 0.5f);
    for (int l = 0; l < L; ++l) cache_ptrs[i].push_back(caches[i].data() + l * cf);
  }
  // Single-request reference for request 0, to report how far a batched result is from it
  // (0 for fp32 up to rounding; int8 quantizes activations over the whole batch).
  std::vector<float> ref_enc, ref_alphas, ref_logits, enc_out, alpha_out, logit_out;
  m.encode(feats[0].data(), T, ref_enc, ref_alphas);
  std::vector<float> ref_cache = caches[0];
  {
    std::vector<float*> rp;
    for (int l = 0; l < L; ++l) rp.push_back(ref_cache.data() + l * cf);
    m.decode(ref_enc.data(), T, embeds[0].data(), N, rp, ref_logits);
  }
  const std::vector<float> caches0 = caches[0];

  // single_cpu_s > 0: the CPU seconds of the same B requests as B single-request calls
  // (the "vs singles" column); else the ratio is to the first row's rows per CPU second.
  struct Row {
    int B;
    Timing t;
    double rows;
    float diff;
    double agree;
    double single_cpu_s = 0;
  };
  auto print_table = [&](const char* title, const char* unit, const std::vector<Row>& rows) {
    const bool vs_singles = !rows.empty() && rows[0].single_cpu_s > 0;
    std::printf("\n  %s\n", title);
    std::printf("  %4s %7s %10s %10s %14s %9s %12s %s\n", "B", "calls", "ms/call", "CPU ms/call", unit,
                vs_singles ? "vs single" : "vs B=1", "max|d| req0", "argmax agree");
    double base = 0;
    for (const auto& r : rows) {
      const double per_cpu = r.rows * r.t.calls / r.t.cpu_s;
      if (base == 0) base = per_cpu;
      if (vs_singles) base = r.rows / r.single_cpu_s;
      char diff[32] = "-";
      if (r.diff >= 0) std::snprintf(diff, sizeof diff, "%.3g", static_cast<double>(r.diff));
      std::printf("  %4d %7d %10.2f %10.2f %14.0f %8.2fx %12s %s\n", r.B, r.t.calls, 1e3 * r.t.wall_s / r.t.calls,
                  1e3 * r.t.cpu_s / r.t.calls, per_cpu, per_cpu / base, diff,
                  r.agree < 0 ? "" : (std::to_string(static_cast<int>(r.agree * 100 + 0.5)) + " %").c_str());
    }
    std::fflush(stdout);
  };

  // Encoder: B requests of T frames (one stacked Run).
  std::vector<Row> enc_rows;
  for (int B : batches) {
    std::vector<OnlineParaformerModel::EncodeRequest> reqs;
    for (int i = 0; i < B; ++i)
      reqs.push_back({feats[static_cast<std::size_t>(i)].data(), T, enc[static_cast<std::size_t>(i)].data(),
                      alphas[static_cast<std::size_t>(i)].data()});
    const Timing t = time_calls(a.seconds, [&] { m.encode_batch(reqs, scratch); });
    enc_rows.push_back({B, t, static_cast<double>(B) * T, max_abs_diff(enc[0].data(), ref_enc.data(), ref_enc.size()), -1});
  }
  print_table("online encoder (rows = frames)", "frames/CPU-s", enc_rows);

  // Decoder: B requests of N tokens over the single-request enc of each (one stacked Run),
  // then B requests with N cycling 1..4 (one Run per distinct N: up to 4).
  auto argmax_agree = [&](const float* got, const float* want, int rows) {
    int same = 0;
    for (int r = 0; r < rows; ++r) {
      const float* g = got + static_cast<std::size_t>(r) * V;
      const float* w = want + static_cast<std::size_t>(r) * V;
      same += std::max_element(g, g + V) - g == std::max_element(w, w + V) - w;
    }
    return static_cast<double>(same) / rows;
  };
  // CPU seconds of one single-request decoder call per N (the mixed table's baseline).
  std::vector<double> single_cpu(static_cast<std::size_t>(mixed_max_n) + 1, 0.0);
  for (int n = 1; n <= mixed_max_n; ++n) {
    OnlineParaformerModel::DecodeRequest r{ref_enc.data(), T, embeds[0].data(), n, cache_ptrs[0].data(),
                                           logits[0].data()};
    const Timing t = time_calls(a.seconds / 2, [&] { m.decode_batch({&r, 1}, scratch); });
    single_cpu[static_cast<std::size_t>(n)] = t.cpu_s / t.calls;
  }
  for (const bool mixed : {false, true}) {
    std::vector<Row> dec_rows;
    for (int B : batches) {
      std::vector<OnlineParaformerModel::DecodeRequest> reqs;
      double rows = 0, singles = 0;
      for (int i = 0; i < B; ++i) {
        const std::size_t k = static_cast<std::size_t>(i);
        const int n = mixed ? 1 + i % 4 : N;
        rows += n;
        singles += single_cpu[static_cast<std::size_t>(n)];
        reqs.push_back({ref_enc.data(), T, embeds[k].data(), n, cache_ptrs[k].data(), logits[k].data()});
      }
      Timing t = time_calls(a.seconds, [&] { m.decode_batch(reqs, scratch); });
      // One more call from the initial caches, for the parity columns (request 0 has N).
      caches[0] = caches0;
      m.decode_batch(reqs, scratch);
      const float d = mixed ? -1.0f : max_abs_diff(logits[0].data(), ref_logits.data(), ref_logits.size());
      dec_rows.push_back({B, t, rows, d, mixed ? -1.0 : argmax_agree(logits[0].data(), ref_logits.data(), N),
                          mixed ? singles : 0.0});
    }
    print_table(mixed ? "online decoder, N = 1,2,3,4,1,... per request (rows = tokens; one Run per distinct N; vs the same requests as single calls)"
                      : "online decoder (rows = tokens)",
                "tokens/CPU-s", dec_rows);
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

  auto ba = std::make_shared<BenchArgs>();
  ba->seconds = 3;
  auto* bb = bench->add_subcommand("batch", "streaming encoder/decoder calls batched over B requests: throughput per B");
  bb->add_option("--models", ba->models, "model set folder with online/")->required();
  bb->add_option("--quantize", ba->quantize, "load *_quant.onnx (only exactly 'true')")->capture_default_str();
  bb->add_option("--batches", ba->batches, "comma-separated batch sizes (first = the ratio's base)")->capture_default_str();
  bb->add_option("--frames", ba->frames, "encoder frames per request (a+b+c of chunk_size)")->capture_default_str();
  bb->add_option("--tokens", ba->tokens, "decoder tokens per request")->capture_default_str();
  bb->add_option("--seconds", ba->seconds, "wall seconds per point")->capture_default_str();
  bb->add_option("--ort-profile", ba->runtime.ort.profile_prefix,
                 "write ONNX Runtime per-node profiles to PREFIX_<time>.json (one per session)");
  add_runtime_options(bb, ba->runtime, "--model-threads");
  bb->callback([ba, &exit_code] { exit_code = bench_batch(*ba); });
}

}  // namespace paraserve::cli
