#include "common/malloc_tuning.h"

#include <malloc.h>

#include "common/error.h"

namespace paraserve {

void GlibcMallocTuning::validate() const {
  if (arena_max != -1 && (arena_max < 1 || arena_max > 1024))
    throw Error("malloc tuning: arena_max is " + std::to_string(arena_max) + ", expected 1..1024 (or -1 = default)");
  // glibc caps M_MMAP_THRESHOLD at 32 MiB on 64-bit (HEAP_MAX_SIZE / 2).
  if (mmap_threshold != -1 && (mmap_threshold < 4096 || mmap_threshold > (int64_t{32} << 20)))
    throw Error("malloc tuning: mmap_threshold is " + std::to_string(mmap_threshold) +
                " bytes, expected 4096..33554432 (or -1 = default)");
  if (trim_threshold != -1 && (trim_threshold < 0 || trim_threshold > (int64_t{1} << 30)))
    throw Error("malloc tuning: trim_threshold is " + std::to_string(trim_threshold) +
                " bytes, expected 0..1073741824 (or -1 = default)");
}

std::string configure_glibc_malloc(const GlibcMallocTuning& t) {
  try {
    t.validate();
  } catch (const Error& e) {
    return e.what();
  }
#if defined(__GLIBC__)
  if (t.arena_max > 0 && mallopt(M_ARENA_MAX, t.arena_max) != 1) return "malloc tuning: mallopt(M_ARENA_MAX) failed";
  if (t.mmap_threshold > 0 && mallopt(M_MMAP_THRESHOLD, static_cast<int>(t.mmap_threshold)) != 1)
    return "malloc tuning: mallopt(M_MMAP_THRESHOLD) failed";
  if (t.trim_threshold >= 0 && mallopt(M_TRIM_THRESHOLD, static_cast<int>(t.trim_threshold)) != 1)
    return "malloc tuning: mallopt(M_TRIM_THRESHOLD) failed";
  return {};
#else
  if (t.arena_max < 0 && t.mmap_threshold < 0 && t.trim_threshold < 0) return {};
  return "malloc tuning: not a glibc build";
#endif
}

}  // namespace paraserve
