// Internal helpers shared by the model classes (not part of the public model API).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/contract.h"
#include "models/model_info.h"
#include "models/ort_runtime.h"

namespace paraserve::detail {

struct OpenedModel {
  std::unique_ptr<Ort::Session> session;
  OnnxFileInfo info;  // io = actual I/O; kind set by check()
  std::chrono::steady_clock::time_point t0;

  // Checks `expected` (throws "<path>: <mismatch>") and finalises info.kind / load_ms.
  void check(const ModelContract& expected);
};

OpenedModel open_model(const OrtRuntime& rt, const std::string& path, bool quantized);

// Copies names into owned strings and a parallel array of C pointers for Session::Run.
void set_names(const std::vector<TensorSpec>& specs, std::vector<std::string>& names,
               std::vector<const char*>& ptrs);

// An Ort::Exception turned into a one-line paraserve::Error naming the file.
[[noreturn]] void rethrow_run_error(const std::string& path, const Ort::Exception& e);

// Fixed-size array of empty Ort::Values (Ort::Value has no default constructor).
template <std::size_t N>
std::array<Ort::Value, N> empty_values() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<Ort::Value, N>{((void)I, Ort::Value(nullptr))...};
  }(std::make_index_sequence<N>{});
}

// Wraps caller memory (no copy). ORT's API takes non-const pointers even for inputs.
template <class T>
Ort::Value wrap(const OrtRuntime& rt, const T* data, std::size_t count, const int64_t* shape, std::size_t rank) {
  return Ort::Value::CreateTensor<T>(rt.cpu_memory(), const_cast<T*>(data), count, shape, rank);
}

}  // namespace paraserve::detail
