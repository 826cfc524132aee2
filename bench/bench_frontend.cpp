// Front-end throughput: fbank (offline and streaming 10 ms pieces), LFR+CMVN, resampling.
// Counters: "audio_s_per_s" = seconds of 16 kHz audio processed per wall-clock second.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "frontend/cmvn.h"
#include "frontend/fbank.h"
#include "frontend/lfr.h"
#include "frontend/resampler.h"

namespace {

using namespace paraserve;

std::vector<float> test_audio(std::size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 300);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = 8000.0f * static_cast<float>(std::sin(2 * M_PI * 220 * static_cast<double>(i) / 16000)) + noise(rng);
  return x;
}

void set_rate(benchmark::State& st, std::size_t samples_per_iter) {
  st.counters["audio_s_per_s"] = benchmark::Counter(static_cast<double>(samples_per_iter) / 16000.0,
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

void BM_FbankOffline(benchmark::State& st) {
  FbankComputer fb(FbankOptions{});
  const auto x = test_audio(16000 * 10);
  auto ws = fb.make_workspace();
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(fb.num_frames(x.size())) * 80);
  for (auto _ : st) {
    out.clear();
    fb.compute(x, out, ws);
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(st, x.size());
}
BENCHMARK(BM_FbankOffline)->Unit(benchmark::kMillisecond);

void BM_FbankStreaming10ms(benchmark::State& st) {
  FbankComputer fb(FbankOptions{});
  StreamingFbank s(fb);
  const auto x = test_audio(16000 * 10);
  std::vector<float> out;
  out.reserve(1024);
  for (auto _ : st) {
    for (std::size_t pos = 0; pos < x.size(); pos += 160) {
      out.clear();
      s.accept(std::span<const float>(x.data() + pos, 160), out);
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(st, x.size());
}
BENCHMARK(BM_FbankStreaming10ms)->Unit(benchmark::kMillisecond);

void BM_LfrCmvnStreaming(benchmark::State& st) {
  FbankComputer fb(FbankOptions{});
  const auto x = test_audio(16000 * 10);
  std::vector<float> feats;
  fb.compute(x, feats);
  Cmvn cmvn;
  cmvn.shift.assign(560, -8.0f);
  cmvn.scale.assign(560, 0.25f);
  StreamingLfr lfr(7, 6, 80);
  std::vector<float> out;
  out.reserve(560 * 16);
  const int T = static_cast<int>(feats.size() / 80);
  for (auto _ : st) {
    for (int t = 0; t < T; t += 60) {  // 600 ms chunks of fbank frames
      out.clear();
      const int n = lfr.accept(feats.data() + static_cast<std::size_t>(t) * 80, std::min(60, T - t), false, out);
      cmvn.apply(out.data(), n, 560);
    }
    lfr.reset();
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(st, x.size());
}
BENCHMARK(BM_LfrCmvnStreaming)->Unit(benchmark::kMillisecond);

void BM_Resample48kTo16k(benchmark::State& st) {
  std::vector<float> x(48000 * 2);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  StreamingResampler r(48000, 16000);
  std::vector<float> out;
  out.reserve(x.size());
  for (auto _ : st) {
    out.clear();
    for (std::size_t pos = 0; pos < x.size(); pos += 4800) r.process(std::span<const float>(x.data() + pos, 4800), out);
    r.flush(out);
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(st, 32000);
}
BENCHMARK(BM_Resample48kTo16k)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
