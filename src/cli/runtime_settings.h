// The process-wide engine configuration that every model-running command applies the same
// way (issue 9): heap allocator tuning and ONNX Runtime session options. `serve`,
// `transcribe` and `bench` register the same flags with the same defaults through
// add_runtime_options() and call apply_runtime_settings() before loading models, so a
// benchmark measures what the server does. docs/memory.md gives the measurements behind
// every default.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "common/malloc_tuning.h"
#include "models/ort_runtime.h"
#include "observability/allocator_stats.h"
#include "observability/idle_purger.h"
#include "observability/metrics.h"

namespace paraserve::cli {

struct RuntimeSettings {
  // glibc malloc (used only when glibc is the allocator in the process).
  GlibcMallocTuning glibc{.arena_max = 2, .mmap_threshold = 256 << 10, .trim_threshold = 1 << 20};
  // jemalloc (the default build): a freed page is never returned by age (-1), so the
  // activation buffers of one model call are reused by the next instead of being faulted in
  // again; the pages go back when the server has been idle or exceed a cap (`idle_purge`),
  // and once after the models are loaded. No background thread: with decay "never" it has
  // nothing to do (measured: on, it woke ~20,000 times a second). docs/memory.md has the numbers.
  JemallocTuning jemalloc{.dirty_decay_ms = -1, .muzzy_decay_ms = 0, .background_thread = 0};
  // When unused allocator pages go back to the kernel (serve runs the purger; transcribe and
  // bench never idle, and purge once after loading like serve).
  IdlePurgeConfig idle_purge;
  // ONNX Runtime session options (intra_threads = FunASR's --model-thread-num).
  OrtOptions ort;
};

// Registers the allocator and ORT flags on `cmd`. `model_threads_flag` is the command's
// name for ORT's intra-op thread count (serve keeps FunASR's "--model-thread-num").
void add_runtime_options(CLI::App* cmd, RuntimeSettings& s, const std::string& model_threads_flag);

// Applies the allocator tuning (call before worker threads start) and validates the ORT
// options. Returns the one-line description every command logs; a tuning that could not be
// applied (e.g. jemalloc flags with another allocator) is reported in `warning`.
std::string apply_runtime_settings(const RuntimeSettings& s, std::string& warning);

// Returns the allocator's unused pages after the models are loaded (their load-time
// temporaries would otherwise stay with decay "never"). Returns the line to log, empty when
// the allocator cannot purge.
std::string purge_after_load();

// The description as Prometheus labels, exported by `serve` as paraserve_runtime_info so
// that `paraserve soak` (and anyone scraping) can print what the server runs with.
Labels runtime_labels(const RuntimeSettings& s);

}  // namespace paraserve::cli
