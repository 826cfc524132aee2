#include <gtest/gtest.h>

#include "common/error.h"
#include "common/malloc_tuning.h"

namespace paraserve {
namespace {

TEST(MallocTuning, RejectsOutOfRangeValuesNamingTheField) {
  GlibcMallocTuning t;
  t.arena_max = 0;
  try {
    t.validate();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("arena_max"), std::string::npos) << e.what();
  }
  t = {};
  t.mmap_threshold = int64_t{64} << 20;
  EXPECT_THROW(t.validate(), Error);
  EXPECT_NE(configure_glibc_malloc(t).find("mmap_threshold"), std::string::npos);
  t = {};
  EXPECT_NO_THROW(t.validate());
  EXPECT_EQ(configure_glibc_malloc(t), "");  // nothing requested
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(MallocTuning, AppliesWithMallopt) {
  // The values the server uses by default; glibc accepts them (mallopt returns 1).
  GlibcMallocTuning t{.arena_max = 2, .mmap_threshold = 256 << 10, .trim_threshold = 1 << 20};
  EXPECT_EQ(configure_glibc_malloc(t), "");
}
#endif

}  // namespace
}  // namespace paraserve
