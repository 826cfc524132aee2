// ONNX Runtime glue shared by every model: one Ort::Env and one set of SessionOptions,
// owned by the engine (no process-global Env). Sessions opened here are immutable after
// load and are Run() concurrently from many threads (ORT guarantees Run is thread-safe).
//
// Tuning knobs (issue 6 measures them; defaults favour many concurrent streams, each
// Run on the caller's thread):
//   intra_threads    per-session intra-op pool size (FunASR: --model-thread-num). 1 = run on
//                    the calling thread only, no pool threads.
//   cpu_arena        ORT's CPU memory arena. FunASR disables it; off keeps RSS flat.
//   mem_pattern      memory-pattern planning (pre-sized buffers per input shape); with
//                    dynamic T it mostly caches plans that are never reused.
//   allow_spinning   intra-op worker spinning ("session.intra_op.allow_spinning"); off by
//                    default so idle pool threads do not burn the shared cores.
//   graph_opt_level  0 disable, 1 basic, 2 extended, 99 all (FunASR: ORT_ENABLE_ALL).
//   profile_prefix   non-empty: ORT's profiler writes one JSON per session, named
//                    "<prefix><folder>_<file stem>_<time>.json" (bench --ort-profile;
//                    tools/ort-profile-summary.py sums it per op type and kernel).
// Inter-op threads are always 1 and execution is sequential (Paraformer graphs have no
// useful inter-op parallelism).
#pragma once
#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>
#include <string_view>

namespace paraserve {

struct OrtOptions {
  int intra_threads = 1;
  bool cpu_arena = false;
  bool mem_pattern = false;
  bool allow_spinning = false;
  int graph_opt_level = 99;  // ORT_ENABLE_ALL
  // Diagnostics only (`bench stream|batch --ort-profile`): non-empty = ORT's per-node profiling,
  // one "<prefix>_<time>.json" per session.
  std::string profile_prefix;
  void validate() const;      // throws paraserve::Error
};

class OrtRuntime {
 public:
  explicit OrtRuntime(const OrtOptions& options = {});
  OrtRuntime(const OrtRuntime&) = delete;
  OrtRuntime& operator=(const OrtRuntime&) = delete;

  // Opens `path` with the shared options. Errors are one line naming the file.
  std::unique_ptr<Ort::Session> open(const std::string& path) const;
  // Same, and ORT writes the graph it optimised (with these options) to `optimized_path`.
  std::unique_ptr<Ort::Session> open_and_save_optimized(const std::string& path,
                                                        const std::string& optimized_path) const;

  const OrtOptions& options() const { return options_; }
  // Describes caller-owned CPU buffers wrapped as input/output tensors (no allocation).
  const Ort::MemoryInfo& cpu_memory() const { return cpu_memory_; }

 private:
  std::unique_ptr<Ort::Session> open_with(const std::string& path, const Ort::SessionOptions& so) const;

  OrtOptions options_;
  Ort::Env env_;
  Ort::SessionOptions session_options_;
  Ort::MemoryInfo cpu_memory_;
};

}  // namespace paraserve
