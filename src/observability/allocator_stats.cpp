#include "observability/allocator_stats.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace paraserve {
namespace {

using MallctlFn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
using MiProcessInfoFn = void (*)(std::size_t*, std::size_t*, std::size_t*, std::size_t*,
                                 std::size_t*, std::size_t*, std::size_t*, std::size_t*);
using MallInfo2Fn = struct mallinfo2 (*)();

// Looked up on every call (dlsym is cheap relative to a scrape), so nothing is cached in
// globals and an allocator loaded late (dlopen) is still found.
MallctlFn find_mallctl() {
  return reinterpret_cast<MallctlFn>(::dlsym(RTLD_DEFAULT, "mallctl"));
}
MiProcessInfoFn find_mi_process_info() {
  return reinterpret_cast<MiProcessInfoFn>(::dlsym(RTLD_DEFAULT, "mi_process_info"));
}

int64_t jemalloc_size(MallctlFn mallctl, const char* name) {
  std::size_t v = 0, len = sizeof v;
  if (mallctl(name, &v, &len, nullptr, 0) != 0) return -1;
  return static_cast<int64_t>(v);
}

}  // namespace

std::string allocator_name() {
  if (find_mallctl()) return "jemalloc";
  if (find_mi_process_info()) return "mimalloc";
#if defined(__GLIBC__)
  return "glibc";
#else
  return "unknown";
#endif
}

AllocatorStats read_allocator_stats() {
  AllocatorStats s;
  if (MallctlFn mallctl = find_mallctl()) {
    s.name = "jemalloc";
    // Statistics are snapshots refreshed by writing to "epoch".
    uint64_t epoch = 1;
    std::size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);
    s.allocated = jemalloc_size(mallctl, "stats.allocated");
    s.active = jemalloc_size(mallctl, "stats.active");
    s.resident = jemalloc_size(mallctl, "stats.resident");
    s.retained = jemalloc_size(mallctl, "stats.retained");
    return s;
  }
  if (MiProcessInfoFn info = find_mi_process_info()) {
    s.name = "mimalloc";
    std::size_t elapsed = 0, user = 0, sys = 0, rss = 0, peak_rss = 0, commit = 0, peak_commit = 0,
                faults = 0;
    info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
    s.resident = static_cast<int64_t>(rss);
    s.active = static_cast<int64_t>(commit);
    return s;
  }
#if defined(__GLIBC__)
  s.name = "glibc";
  // mallinfo2 (glibc >= 2.33) via dlsym, so an older libc simply reports nothing.
  if (auto mi2 = reinterpret_cast<MallInfo2Fn>(::dlsym(RTLD_DEFAULT, "mallinfo2"))) {
    struct mallinfo2 m = mi2();
    s.allocated = static_cast<int64_t>(m.uordblks + m.hblkhd);
    s.active = static_cast<int64_t>(m.arena + m.hblkhd);
    s.retained = static_cast<int64_t>(m.fordblks);
  }
#else
  s.name = "unknown";
#endif
  return s;
}

std::string configure_jemalloc(const JemallocTuning& t) {
  auto valid_decay = [](int64_t v) { return v >= -1 || v == JemallocTuning::kLeave; };
  if (!valid_decay(t.dirty_decay_ms) || !valid_decay(t.muzzy_decay_ms))
    return "jemalloc tuning: decay times must be >= 0 ms, or -1 (never)";
  if (t.background_thread < -1 || t.background_thread > 1)
    return "jemalloc tuning: background_thread must be 0 or 1";
  bool nothing = t.dirty_decay_ms == JemallocTuning::kLeave &&
                 t.muzzy_decay_ms == JemallocTuning::kLeave && t.background_thread < 0;
  if (nothing) return {};
  MallctlFn mallctl = find_mallctl();
  if (!mallctl) return "jemalloc tuning requested but jemalloc is not in use (allocator: " +
                       allocator_name() + ")";
  auto set_ssize = [&](const char* name, int64_t v) -> std::string {
    ssize_t value = static_cast<ssize_t>(v);
    if (mallctl(name, nullptr, nullptr, &value, sizeof value) != 0)
      return std::string("jemalloc tuning: mallctl(\"") + name + "\") failed";
    return {};
  };
  // arenas.* sets the default for arenas created later; existing arenas are updated one by
  // one (uninitialised arena slots refuse the call, which is fine).
  unsigned narenas = 0;
  std::size_t nlen = sizeof narenas;
  if (mallctl("arenas.narenas", &narenas, &nlen, nullptr, 0) != 0) narenas = 0;
  auto set_decay = [&](const char* what, int64_t v) -> std::string {
    if (auto e = set_ssize((std::string("arenas.") + what).c_str(), v); !e.empty()) return e;
    for (unsigned i = 0; i < narenas; ++i)
      set_ssize(("arena." + std::to_string(i) + "." + what).c_str(), v);
    return {};
  };
  // Set before any allocation of 8 MiB or more creates jemalloc's "huge" arena: that arena
  // copies these defaults, except that a positive default decay makes it purge at once.
  if (t.dirty_decay_ms != JemallocTuning::kLeave)
    if (auto e = set_decay("dirty_decay_ms", t.dirty_decay_ms); !e.empty()) return e;
  if (t.muzzy_decay_ms != JemallocTuning::kLeave)
    if (auto e = set_decay("muzzy_decay_ms", t.muzzy_decay_ms); !e.empty()) return e;
  if (t.background_thread >= 0) {
    bool on = t.background_thread == 1;
    if (mallctl("background_thread", nullptr, nullptr, &on, sizeof on) != 0)
      return "jemalloc tuning: mallctl(\"background_thread\") failed";
  }
  return {};
}

// MALLCTL_ARENAS_ALL: the pseudo arena index that addresses (or sums over) every arena.
constexpr const char* kAllArenas = "4096";

bool allocator_purge() {
  MallctlFn mallctl = find_mallctl();
  if (!mallctl) return false;
  return mallctl((std::string("arena.") + kAllArenas + ".purge").c_str(), nullptr, nullptr, nullptr, 0) == 0;
}

int jemalloc_narenas() {
  MallctlFn mallctl = find_mallctl();
  if (!mallctl) return -1;
  unsigned n = 0;
  std::size_t len = sizeof n;
  return mallctl("opt.narenas", &n, &len, nullptr, 0) == 0 ? static_cast<int>(n) : -1;
}

int64_t jemalloc_tcache_max() {
  MallctlFn mallctl = find_mallctl();
  return mallctl ? jemalloc_size(mallctl, "opt.tcache_max") : -1;
}

int64_t allocator_unused_bytes() {
  MallctlFn mallctl = find_mallctl();
  if (!mallctl) return -1;
  uint64_t epoch = 1;
  std::size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
  int64_t page = -1;
  {
    std::size_t v = 0, l = sizeof v;
    if (mallctl("arenas.page", &v, &l, nullptr, 0) == 0) page = static_cast<int64_t>(v);
  }
  const std::string base = std::string("stats.arenas.") + kAllArenas;
  int64_t dirty = jemalloc_size(mallctl, (base + ".pdirty").c_str());
  int64_t muzzy = jemalloc_size(mallctl, (base + ".pmuzzy").c_str());
  if (page <= 0 || dirty < 0 || muzzy < 0) return -1;
  return (dirty + muzzy) * page;
}

}  // namespace paraserve
