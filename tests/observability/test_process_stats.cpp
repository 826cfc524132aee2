#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "observability/process_stats.h"

namespace paraserve {
namespace {

TEST(ProcessStats, ParsesStatm) {
  EXPECT_EQ(parse_statm_rss_kb("5000 1000 300 10 0 900 0\n", 4096), 4000);
  EXPECT_EQ(parse_statm_rss_kb("5000 7 300\n", 65536), 7 * 64);
  EXPECT_EQ(parse_statm_rss_kb("", 4096), -1);
  EXPECT_EQ(parse_statm_rss_kb("5000", 4096), -1);
  EXPECT_EQ(parse_statm_rss_kb("abc def", 4096), -1);
  EXPECT_EQ(parse_statm_rss_kb("5000 1000", 0), -1);
}

TEST(ProcessStats, ParsesStatusKeys) {
  const char* status =
      "Name:\ttest\nVmPeak:\t  99999 kB\nVmHWMx:\t 1 kB\nVmHWM:\t   12345 kB\nVmRSS:\t    2345 kB\n";
  EXPECT_EQ(parse_status_kb(status, "VmHWM"), 12345);
  EXPECT_EQ(parse_status_kb(status, "VmRSS"), 2345);
  EXPECT_EQ(parse_status_kb(status, "VmSwap"), -1);
  EXPECT_EQ(parse_status_kb("VmHWM:\t garbage\n", "VmHWM"), -1);
}

TEST(ProcessStats, RssTracksTouchedMemory) {
  int64_t before = read_rss_kb();
  ASSERT_GT(before, 0);
  std::vector<char> block(64 << 20);
  std::memset(block.data(), 1, block.size());  // fault every page in
  int64_t after = read_rss_kb();
  EXPECT_GE(after - before, 60 * 1024) << "before " << before << " after " << after;
  EXPECT_EQ(block[block.size() / 2], 1);
  // HWM is a running maximum, so it is at least any RSS read before it.
  EXPECT_GE(read_hwm_kb(), after);
}

TEST(ProcessStats, ParsesProcStat) {
  // A command name with spaces and ')' must not shift the fields (counted from the last ')').
  const char* stat =
      "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1234 0 56 0 250 50 0 0 20 0 3 0 100 123456 789 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  ProcessCounters c;
  ASSERT_TRUE(parse_proc_stat(stat, 100, c));
  EXPECT_EQ(c.minor_faults, 1234);
  EXPECT_EQ(c.major_faults, 56);
  EXPECT_DOUBLE_EQ(c.cpu_s, 3.0);  // (250 + 50) ticks at 100 Hz
  ProcessCounters bad;
  EXPECT_FALSE(parse_proc_stat("4242 (x) S 1 2", 100, bad));
  EXPECT_FALSE(parse_proc_stat("no parenthesis at all", 100, bad));
  EXPECT_FALSE(parse_proc_stat(stat, 0, bad));
}

TEST(ProcessStats, CountersFollowWorkAndFaults) {
  const int pid = static_cast<int>(::getpid());
  const ProcessCounters before = read_process_counters(pid);
  ASSERT_GE(before.cpu_s, 0);
  ASSERT_GE(before.voluntary_switches, 0);
  ASSERT_GE(before.involuntary_switches, 0);
  std::vector<char> block(32 << 20);
  std::memset(block.data(), 1, block.size());  // at least one minor fault per 4 KiB page
  volatile double x = 0;
  for (const auto t0 = read_process_counters(pid).cpu_s; read_process_counters(pid).cpu_s - t0 < 0.05;)
    for (int i = 0; i < 100000; ++i) x = x + i;
  const ProcessCounters after = read_process_counters(pid);
  EXPECT_GE(after.minor_faults - before.minor_faults, (32 << 20) / 4096 / 2);
  EXPECT_GE(after.cpu_s - before.cpu_s, 0.05);
  EXPECT_EQ(block[12345], 1);
  EXPECT_LT(read_process_counters(-1).cpu_s, 0);
}

TEST(ProcessStats, ContextSwitchesIncludeOtherThreads) {
  const int pid = static_cast<int>(::getpid());
  const ProcessCounters before = read_process_counters(pid);
  ASSERT_GE(before.voluntary_switches, 0);
  // A helper thread blocks 200 times (each a voluntary switch of that thread, not of the
  // main thread), then stays alive until the counters are read.
  std::promise<void> slept, read_done;
  std::thread sleeper([&] {
    for (int i = 0; i < 200; ++i) std::this_thread::sleep_for(std::chrono::microseconds(100));
    slept.set_value();
    read_done.get_future().wait();
  });
  slept.get_future().wait();
  const ProcessCounters after = read_process_counters(pid);
  read_done.set_value();
  sleeper.join();
  EXPECT_GE(after.voluntary_switches - before.voluntary_switches, 150);
}

TEST(ProcessStats, RssOfOtherPid) {
  int64_t self = read_rss_kb(static_cast<int>(::getpid()));
  EXPECT_GT(self, 0);
  EXPECT_EQ(read_rss_kb(-1), -1);
  EXPECT_EQ(read_rss_kb(0), -1);
}

TEST(ProcessStats, AvailableCpusWithinAffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  int cpus = available_cpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, CPU_COUNT(&set));
}

}  // namespace
}  // namespace paraserve
