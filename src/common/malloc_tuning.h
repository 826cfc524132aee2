// glibc malloc tuning applied once at server start (issue 6; docs/memory.md says why each
// default was chosen). Only meaningful when glibc malloc is the allocator in use; the caller
// checks (observability/allocator_stats.h allocator_name()). jemalloc's counterpart is
// configure_jemalloc() in observability/allocator_stats.h.
#pragma once
#include <cstdint>
#include <string>

namespace paraserve {

struct GlibcMallocTuning {
  int arena_max = -1;           // M_ARENA_MAX: malloc arenas (default 8 x cores); -1 = leave
  int64_t mmap_threshold = -1;  // M_MMAP_THRESHOLD bytes; fixing it also stops glibc raising it
                                // dynamically (which moves big, short-lived buffers into arenas)
  int64_t trim_threshold = -1;  // M_TRIM_THRESHOLD bytes: free top-of-heap above this is returned
  void validate() const;        // throws paraserve::Error naming the field
};

// Applies the set fields with mallopt(). Call before worker threads start. Returns an empty
// string on success (or when nothing was requested), otherwise a one-line reason.
std::string configure_glibc_malloc(const GlibcMallocTuning& tuning);

}  // namespace paraserve
