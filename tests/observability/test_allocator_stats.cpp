#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <cstring>

#include "observability/allocator_stats.h"

namespace paraserve {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // sanitizer allocators bypass malloc statistics
#else
constexpr bool kSanitized = false;
#endif

// The test program links glibc malloc only.
TEST(AllocatorStats, DetectsGlibcByDefault) {
  EXPECT_EQ(allocator_name(), "glibc");
  AllocatorStats s = read_allocator_stats();
  EXPECT_EQ(s.name, "glibc");
  EXPECT_EQ(s.resident, -1);  // glibc does not report it
  if (kSanitized) GTEST_SKIP() << "malloc statistics are not kept under sanitizers";
  ASSERT_GE(s.allocated, 0);
  ASSERT_GE(s.active, s.allocated - 1);
  // 4 MiB of live small blocks must show up as allocated bytes.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 4096; ++i) blocks.emplace_back(new char[1024]);
  AllocatorStats after = read_allocator_stats();
  EXPECT_GE(after.allocated - s.allocated, 4 * 1024 * 1024 - 64 * 1024);
}

TEST(AllocatorStats, JemallocTuningWithoutJemalloc) {
  EXPECT_EQ(configure_jemalloc({}), "");  // nothing requested: fine with any allocator
  JemallocTuning t;
  t.dirty_decay_ms = 1000;
  EXPECT_NE(configure_jemalloc(t).find("not in use"), std::string::npos);
  t.dirty_decay_ms = -1;  // "never" is a value, not "leave": still needs jemalloc
  EXPECT_NE(configure_jemalloc(t).find("not in use"), std::string::npos);
  t.dirty_decay_ms = -5;
  EXPECT_NE(configure_jemalloc(t).find("decay"), std::string::npos);
  JemallocTuning b;
  b.background_thread = 3;
  EXPECT_NE(configure_jemalloc(b).find("background_thread"), std::string::npos);
}

// Child mode: print what this process sees (used with LD_PRELOAD below).
TEST(AllocatorStats, ChildReport) {
  if (!std::getenv("PARASERVE_ALLOC_CHILD")) GTEST_SKIP() << "only run as a child";
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 1024; ++i) blocks.emplace_back(new char[1024]);
  JemallocTuning t;
  t.dirty_decay_ms = 0;
  t.muzzy_decay_ms = 0;
  std::string tune = allocator_name() == "jemalloc" ? configure_jemalloc(t) : "n/a";
  AllocatorStats s = read_allocator_stats();
  std::printf("ALLOC name=%s allocated=%lld active=%lld resident=%lld retained=%lld tune=[%s]\n",
              s.name.c_str(), (long long)s.allocated, (long long)s.active, (long long)s.resident,
              (long long)s.retained, tune.c_str());
}

// Child mode: with decay "never", freed pages stay as unused pages until allocator_purge().
TEST(AllocatorStats, ChildPurgeReport) {
  if (!std::getenv("PARASERVE_ALLOC_CHILD")) GTEST_SKIP() << "only run as a child";
  JemallocTuning t;
  t.dirty_decay_ms = -1;
  t.muzzy_decay_ms = -1;
  t.background_thread = 0;
  std::string tune = configure_jemalloc(t);
  {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 64; ++i) {
      blocks.emplace_back(new char[1 << 20]);
      std::memset(blocks.back().get(), i, 1 << 20);
    }
  }
  const long long before = allocator_unused_bytes();
  const int purged = allocator_purge() ? 1 : 0;
  const long long after = allocator_unused_bytes();
  std::printf("PURGE before=%lld purged=%d after=%lld tune=[%s]\n", before, purged, after, tune.c_str());
}

std::string run_child_with_preload(const std::string& lib, const std::string& test = "ChildReport") {
  std::string cmd = "PARASERVE_ALLOC_CHILD=1 LD_PRELOAD=" + lib +
                    " /proc/" + std::to_string(::getpid()) + "/exe" +
                    " --gtest_filter=AllocatorStats." + test + " 2>&1";
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
  if (!p) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p.get())) out += buf;
  return out;
}

std::string find_lib(const char* name) {
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"}) {
    std::string p = std::string(dir) + "/" + name;
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

TEST(AllocatorStats, DetectsPreloadedJemalloc) {
  if (kSanitized) GTEST_SKIP() << "LD_PRELOAD of an allocator conflicts with sanitizers";
  std::string lib = find_lib("libjemalloc.so.2");
  if (lib.empty()) GTEST_SKIP() << "libjemalloc.so.2 not installed";
  std::string out = run_child_with_preload(lib);
  EXPECT_NE(out.find("ALLOC name=jemalloc"), std::string::npos) << out;
  EXPECT_NE(out.find("tune=[]"), std::string::npos) << out;  // tuning applied without error
  long long allocated = -1, active = -1, resident = -1, retained = -1;
  auto pos = out.find("ALLOC ");
  ASSERT_NE(pos, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + pos, "ALLOC name=jemalloc allocated=%lld active=%lld resident=%lld retained=%lld",
                        &allocated, &active, &resident, &retained), 4) << out;
  EXPECT_GE(allocated, 1024 * 1024);  // the child's 1 MiB of live blocks
  EXPECT_GE(active, allocated);
  EXPECT_GE(resident, active);
  EXPECT_GE(retained, 0);
}

TEST(AllocatorStats, JemallocPurgeReturnsUnusedPages) {
  if (kSanitized) GTEST_SKIP() << "LD_PRELOAD of an allocator conflicts with sanitizers";
  std::string lib = find_lib("libjemalloc.so.2");
  if (lib.empty()) GTEST_SKIP() << "libjemalloc.so.2 not installed";
  std::string out = run_child_with_preload(lib, "ChildPurgeReport");
  long long before = -1, after = -1;
  int purged = 0;
  auto pos = out.find("PURGE ");
  ASSERT_NE(pos, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + pos, "PURGE before=%lld purged=%d after=%lld", &before, &purged, &after), 3) << out;
  EXPECT_NE(out.find("tune=[]"), std::string::npos) << out;
  EXPECT_GE(before, 48ll << 20) << out;  // the 64 MiB just freed are kept (decay never)
  EXPECT_EQ(purged, 1) << out;
  EXPECT_LT(after, 4ll << 20) << out;    // and given back by the purge
}

TEST(AllocatorStats, PurgeWithoutJemallocReportsFalse) {
  if (allocator_name() == "jemalloc") GTEST_SKIP() << "this binary runs jemalloc";
  EXPECT_FALSE(allocator_purge());
  EXPECT_EQ(allocator_unused_bytes(), -1);
}

TEST(AllocatorStats, DetectsPreloadedMimalloc) {
  if (kSanitized) GTEST_SKIP() << "LD_PRELOAD of an allocator conflicts with sanitizers";
  std::string lib = find_lib("libmimalloc.so.2");
  if (lib.empty()) GTEST_SKIP() << "libmimalloc.so.2 not installed";
  std::string out = run_child_with_preload(lib);
  EXPECT_NE(out.find("ALLOC name=mimalloc"), std::string::npos) << out;
  long long allocated = 0, active = -1, resident = -1;
  auto pos = out.find("ALLOC ");
  ASSERT_NE(pos, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + pos, "ALLOC name=mimalloc allocated=%lld active=%lld resident=%lld",
                        &allocated, &active, &resident), 3) << out;
  EXPECT_EQ(allocated, -1);
  EXPECT_GT(resident, 0);
  EXPECT_GT(active, 0);
}

}  // namespace
}  // namespace paraserve
