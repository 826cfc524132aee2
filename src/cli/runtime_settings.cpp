#include "cli/runtime_settings.h"

#include <cstdio>
#include <cstdlib>

#include "common/error.h"

namespace paraserve::cli {

void add_runtime_options(CLI::App* cmd, RuntimeSettings& s, const std::string& model_threads_flag) {
  const char* group = "Engine (allocator and ONNX Runtime; same defaults in serve, transcribe, bench)";
  auto opt = [&](const std::string& flag, auto& value, const std::string& help) {
    cmd->add_option(flag, value, help)->capture_default_str()->group(group);
  };
  opt(model_threads_flag, s.ort.intra_threads, "ONNX Runtime intra-op threads per model call");
  opt("--ort-cpu-arena", s.ort.cpu_arena, "ONNX Runtime CPU memory arena (true/false)");
  opt("--ort-mem-pattern", s.ort.mem_pattern, "ONNX Runtime memory-pattern planning (true/false)");
  opt("--ort-allow-spinning", s.ort.allow_spinning, "ONNX Runtime intra-op threads spin while idle (true/false)");
  opt("--allocator-idle-purge-ms", s.idle_purge.idle_ms,
      "serve: return the allocator's unused pages after this long with no model work (-1 = never)");
  opt("--allocator-unused-cap-mb", s.idle_purge.unused_cap_mb,
      "serve: return them at once when they exceed this many MiB, busy or not (0 = no cap; "
      "-1 = a tenth of the RSS with the models loaded, at least 32)");
  opt("--jemalloc-background-thread", s.jemalloc.background_thread,
      "jemalloc only: purge on jemalloc's background thread (1/0, -1 = leave)");
  opt("--jemalloc-dirty-decay-ms", s.jemalloc.dirty_decay_ms,
      "jemalloc only: ms a freed page is kept for reuse before jemalloc returns it; -1 = never by age "
      "(returned by the idle purge), -2 = leave jemalloc's setting");
  opt("--jemalloc-muzzy-decay-ms", s.jemalloc.muzzy_decay_ms,
      "jemalloc only: muzzy page decay (-1 = never, -2 = leave)");
  opt("--malloc-arena-max", s.glibc.arena_max, "glibc malloc only: M_ARENA_MAX (-1 = glibc default; env MALLOC_ARENA_MAX wins)");
  opt("--malloc-mmap-threshold", s.glibc.mmap_threshold, "glibc malloc only: M_MMAP_THRESHOLD bytes (-1 = dynamic)");
  opt("--malloc-trim-threshold", s.glibc.trim_threshold, "glibc malloc only: M_TRIM_THRESHOLD bytes (-1 = default)");
}

std::string apply_runtime_settings(const RuntimeSettings& s, std::string& warning) {
  s.ort.validate();
  if (auto e = s.idle_purge.validate(); !e.empty()) throw Error(e);
  const std::string alloc = allocator_name();
  if (alloc == "glibc") {
    GlibcMallocTuning g = s.glibc;
    if (std::getenv("MALLOC_ARENA_MAX")) g.arena_max = -1;  // the environment wins
    warning = configure_glibc_malloc(g);
  } else if (alloc == "jemalloc") {
    warning = configure_jemalloc(s.jemalloc);
  }
  std::string line = "engine: allocator " + alloc;
  for (const auto& [k, v] : runtime_labels(s))
    if (k != "allocator") line += " " + k + "=" + v;
  return line;
}

std::string purge_after_load() {
  const int64_t unused = allocator_unused_bytes();
  if (!allocator_purge()) return {};
  char line[128];
  std::snprintf(line, sizeof line, "allocator: returned %.1f MiB of unused pages after loading",
                unused < 0 ? 0.0 : static_cast<double>(unused) / (1 << 20));
  return line;
}

Labels runtime_labels(const RuntimeSettings& s) {
  const std::string alloc = allocator_name();
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  Labels l{{"allocator", alloc}};
  if (alloc == "jemalloc") {
    l.emplace_back("jemalloc_narenas", std::to_string(jemalloc_narenas()));
    l.emplace_back("jemalloc_tcache_max", std::to_string(jemalloc_tcache_max()));
    l.emplace_back("jemalloc_background_thread", std::to_string(s.jemalloc.background_thread));
    l.emplace_back("jemalloc_dirty_decay_ms", std::to_string(s.jemalloc.dirty_decay_ms));
    l.emplace_back("jemalloc_muzzy_decay_ms", std::to_string(s.jemalloc.muzzy_decay_ms));
  } else if (alloc == "glibc") {
    l.emplace_back("malloc_arena_max", std::to_string(s.glibc.arena_max));
    l.emplace_back("malloc_mmap_threshold", std::to_string(s.glibc.mmap_threshold));
    l.emplace_back("malloc_trim_threshold", std::to_string(s.glibc.trim_threshold));
  }
  l.emplace_back("allocator_idle_purge_ms", std::to_string(s.idle_purge.idle_ms));
  l.emplace_back("allocator_unused_cap_mb", std::to_string(s.idle_purge.unused_cap_mb));
  l.emplace_back("ort_intra_threads", std::to_string(s.ort.intra_threads));
  l.emplace_back("ort_cpu_arena", b(s.ort.cpu_arena));
  l.emplace_back("ort_mem_pattern", b(s.ort.mem_pattern));
  l.emplace_back("ort_allow_spinning", b(s.ort.allow_spinning));
  l.emplace_back("ort_graph_opt_level", std::to_string(s.ort.graph_opt_level));
  return l;
}

}  // namespace paraserve::cli
