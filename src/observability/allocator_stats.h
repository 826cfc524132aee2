// Heap allocator figures, detected at run time: the binary may be linked with jemalloc or
// mimalloc, have one LD_PRELOADed, or use glibc malloc. Detection uses dlsym on the
// allocator's own introspection entry points, so no allocator library is a link dependency.
#pragma once
#include <cstdint>
#include <string>

namespace paraserve {

// Byte counts; -1 where the allocator does not report that figure.
//  jemalloc: stats.allocated / active / resident / retained (after an epoch refresh).
//  mimalloc: resident = current RSS, active = committed bytes (mi_process_info).
//  glibc:    allocated = bytes in use (mallinfo2 uordblks + hblkhd),
//            active = bytes obtained from the OS (arena + hblkhd),
//            retained = free bytes kept by malloc (fordblks).
struct AllocatorStats {
  std::string name;  // "jemalloc", "mimalloc", "glibc" or "unknown"
  int64_t allocated = -1, active = -1, resident = -1, retained = -1;
};

AllocatorStats read_allocator_stats();
std::string allocator_name();

// jemalloc run-time tuning (issues 6 and 9 measure these). Decay times take jemalloc's own
// meaning: ms an unused page is kept before it is returned, 0 = at once, -1 = never (by age;
// the server's idle purger returns it, see idle_purger.h). kLeave fields are left alone.
struct JemallocTuning {
  static constexpr int64_t kLeave = -2;
  int64_t dirty_decay_ms = kLeave;  // applied to all arenas (arenas.dirty_decay_ms + arena.<all>)
  int64_t muzzy_decay_ms = kLeave;
  int background_thread = -1;       // 0 / 1; -1 = leave as is
};
// Applies the tuning when jemalloc is present. Returns an empty string on success (or when
// nothing was requested), otherwise a one-line reason (e.g. "jemalloc not in use").
std::string configure_jemalloc(const JemallocTuning& tuning);

// Returns every unused page the allocator keeps (jemalloc: dirty and muzzy pages of all
// arenas, `arena.<all>.purge`) to the kernel now. Costs page faults on the next use of that
// memory, so it is called only off the audio path: once after the models are loaded (their
// load-time temporaries) and by the idle purger. false when the allocator cannot (glibc:
// paraserve never calls malloc_trim; mimalloc) or the call failed.
bool allocator_purge();

// jemalloc's arena count (opt.narenas); -1 without jemalloc.
int jemalloc_narenas();
// jemalloc's largest size class kept in thread caches (opt.tcache_max); -1 without jemalloc.
int64_t jemalloc_tcache_max();

// Bytes of unused pages the allocator keeps resident for reuse (jemalloc: dirty + muzzy
// pages of all arenas); -1 where the allocator does not say.
int64_t allocator_unused_bytes();

}  // namespace paraserve
