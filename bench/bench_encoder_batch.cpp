// Batch size vs cost of the streaming Paraformer encoder (issue 11 item 3: "batch size vs GEMM
// efficiency"). One Run of the online encoder on B chunks of T feature rows each (T = 20 is
// what one 600 ms chunk with its context sends, see docs/performance.md), serve's session
// options (intra-op 1: all work on the calling thread, so the CPU time below is the Run's).
//   PARASERVE_ENCODER=models/full/online/model_quant.onnx build/bench_encoder_batch
// Counters: us_per_row = CPU microseconds per feature row (lower = better GEMM efficiency),
// chunks_per_cpu_s = chunks (B per Run) encoded per CPU second.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "models/ort_runtime.h"

namespace {

using namespace paraserve;

struct Encoder {
  OrtRuntime rt;
  std::unique_ptr<Ort::Session> session;
  Encoder() {
    const char* p = std::getenv("PARASERVE_ENCODER");
    session = rt.open(p && *p ? p : "models/full/online/model_quant.onnx");
  }
};

Encoder& encoder() {
  static Encoder e;  // loaded once for all batch sizes
  return e;
}

void BM_OnlineEncoder(benchmark::State& st) {
  const int64_t batch = st.range(0), rows = st.range(1), dim = 560;
  Encoder& e = encoder();
  std::vector<float> speech(static_cast<std::size_t>(batch * rows * dim));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& v : speech) v = nd(rng);
  std::vector<int32_t> lengths(static_cast<std::size_t>(batch), static_cast<int32_t>(rows));
  const int64_t speech_shape[] = {batch, rows, dim};
  const int64_t len_shape[] = {batch};
  const char* in_names[] = {"speech", "speech_lengths"};
  const char* out_names[] = {"enc", "enc_len", "alphas"};
  for (auto _ : st) {
    Ort::Value in[] = {Ort::Value::CreateTensor<float>(e.rt.cpu_memory(), speech.data(), speech.size(), speech_shape, 3),
                       Ort::Value::CreateTensor<int32_t>(e.rt.cpu_memory(), lengths.data(), lengths.size(), len_shape, 1)};
    auto out = e.session->Run(Ort::RunOptions{nullptr}, in_names, in, 2, out_names, 3);
    benchmark::DoNotOptimize(out);
  }
  const double runs = static_cast<double>(st.iterations());
  st.counters["us_per_row"] =
      benchmark::Counter(runs * static_cast<double>(batch * rows) * 1e-6,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  st.counters["chunks_per_cpu_s"] = benchmark::Counter(runs * static_cast<double>(batch), benchmark::Counter::kIsRate);
}

// kIsRate divides by CPU time when the benchmark uses CPU time (the default for one thread).
BENCHMARK(BM_OnlineEncoder)
    ->ArgsProduct({{1, 2, 4, 8, 16}, {20}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
