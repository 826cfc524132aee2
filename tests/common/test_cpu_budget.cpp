#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/cpu_budget.h"

namespace paraserve {
namespace {

namespace fs = std::filesystem;

// A fake /proc/self/cgroup and /sys/fs/cgroup tree in a fresh temporary folder.
class FakeCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("paraserve-cpu-budget-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "sys");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& rel, const std::string& text) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  CpuBudget read(int affinity) {
    CpuBudgetSources s;
    s.proc_cgroup = (root_ / "proc_self_cgroup").string();
    s.cgroup_root = (root_ / "sys").string();
    s.affinity = affinity;
    return read_cpu_budget(s);
  }

  fs::path root_;
};

TEST(CpuBudget, ParsesCgroupLimits) {
  EXPECT_EQ(parse_cgroup_v2_cpu_max("max 100000\n"), 0);
  EXPECT_EQ(parse_cgroup_v2_cpu_max("200000 100000\n"), 2);
  EXPECT_EQ(parse_cgroup_v2_cpu_max("150000 100000"), 2);  // 1.5 CPUs rounds up
  EXPECT_EQ(parse_cgroup_v2_cpu_max("50000 100000\n"), 1);
  EXPECT_EQ(parse_cgroup_v2_cpu_max("garbage"), -1);
  EXPECT_EQ(parse_cgroup_v2_cpu_max("x 100000"), -1);
  EXPECT_EQ(parse_cgroup_v2_cpu_max("max"), -1);
  EXPECT_EQ(parse_cgroup_v2_cpu_max("100000 0"), -1);
  EXPECT_EQ(cpus_from_cfs_quota(-1, 100000), 0);
  EXPECT_EQ(cpus_from_cfs_quota(400000, 100000), 4);
  EXPECT_EQ(cpus_from_cfs_quota(10000, 100000), 1);
}

TEST_F(FakeCgroups, NoLimitGivesTheAffinity) {
  write("proc_self_cgroup", "0::/app\n");
  write("sys/app/cpu.max", "max 100000\n");
  const CpuBudget b = read(6);
  EXPECT_EQ(b.cpus, 6);
  EXPECT_EQ(b.affinity, 6);
  EXPECT_EQ(b.cgroup, 0);
  EXPECT_EQ(b.warning, "");
  EXPECT_EQ(b.describe(), "budget 6 (affinity 6, cgroup none)");
}

TEST_F(FakeCgroups, NoCgroupFilesAtAll) {
  const CpuBudget b = read(3);  // no /proc/self/cgroup either
  EXPECT_EQ(b.cpus, 3);
  EXPECT_EQ(b.cgroup, 0);
  EXPECT_EQ(b.warning, "");
}

TEST_F(FakeCgroups, V2QuotaRoundsUp) {
  write("proc_self_cgroup", "0::/app\n");
  write("sys/app/cpu.max", "150000 100000\n");
  const CpuBudget b = read(8);
  EXPECT_EQ(b.cpus, 2);
  EXPECT_EQ(b.cgroup, 2);
  EXPECT_NE(b.cgroup_source.find("v2 150000 100000"), std::string::npos) << b.cgroup_source;
  EXPECT_EQ(b.describe().rfind("budget 2 (affinity 8, cgroup 2: v2 150000 100000 in ", 0), 0u) << b.describe();
}

TEST_F(FakeCgroups, V2AncestorLimitApplies) {
  write("proc_self_cgroup", "0::/outer/inner\n");
  write("sys/outer/inner/cpu.max", "max 100000\n");
  write("sys/outer/cpu.max", "300000 100000\n");
  write("sys/cpu.max", "max 100000\n");
  EXPECT_EQ(read(8).cpus, 3);
}

TEST_F(FakeCgroups, V1Quota) {
  write("proc_self_cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n");
  write("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n");
  write("sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  const CpuBudget b = read(16);
  EXPECT_EQ(b.cpus, 3);
  EXPECT_NE(b.cgroup_source.find("v1 250000/100000"), std::string::npos) << b.cgroup_source;
}

TEST_F(FakeCgroups, V1UnlimitedQuotaAndGroupOutsideTheMount) {
  // No cgroup namespace: the group path does not exist under the mount, which is the
  // container's own group; its root files hold the limit.
  write("proc_self_cgroup", "2:cpu:/docker/abc\n");
  write("sys/cpu/cpu.cfs_quota_us", "100000\n");
  write("sys/cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(read(4).cpus, 1);

  write("sys/cpu/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(read(4).cpus, 4);
}

TEST_F(FakeCgroups, AffinitySmallerThanQuotaWins) {
  write("proc_self_cgroup", "0::/app\n");
  write("sys/app/cpu.max", "400000 100000\n");
  const CpuBudget b = read(2);
  EXPECT_EQ(b.cpus, 2);
  EXPECT_EQ(b.cgroup, 4);
  EXPECT_EQ(b.describe().rfind("budget 2 (affinity 2, cgroup 4: ", 0), 0u) << b.describe();
}

TEST_F(FakeCgroups, MalformedFileFallsBackWithAReason) {
  write("proc_self_cgroup", "0::/app\n");
  write("sys/app/cpu.max", "lots please\n");
  CpuBudget b = read(4);
  EXPECT_EQ(b.cpus, 4);
  EXPECT_EQ(b.cgroup, 0);
  EXPECT_NE(b.warning.find("app/cpu.max: cannot parse 'lots please', ignored"), std::string::npos) << b.warning;

  // A malformed v1 quota next to a valid v2 limit: the valid one is used, the other named.
  write("proc_self_cgroup", "0::/app\n3:cpu:/\n");
  write("sys/app/cpu.max", "100000 100000\n");
  write("sys/cpu/cpu.cfs_quota_us", "12abc\n");
  write("sys/cpu/cpu.cfs_period_us", "100000\n");
  b = read(4);
  EXPECT_EQ(b.cpus, 1);
  EXPECT_NE(b.warning.find("cpu.cfs_quota_us: cannot parse '12abc'"), std::string::npos) << b.warning;
}

TEST(CpuBudget, RealMachineWithinAffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  const CpuBudget b = read_cpu_budget();
  EXPECT_EQ(b.affinity, CPU_COUNT(&set));
  EXPECT_GE(b.cpus, 1);
  EXPECT_LE(b.cpus, b.affinity);
}

TEST(ThreadLayout, DerivedFromTheBudget) {
  ThreadLayout t = plan_threads(1, {});
  EXPECT_EQ(t.io, 1);
  EXPECT_EQ(t.decoders, 1);
  EXPECT_EQ(t.intra_op, 1);
  EXPECT_FALSE(t.oversubscribed);

  t = plan_threads(2, {});
  EXPECT_EQ(t.io, 1);
  EXPECT_EQ(t.decoders, 2);
  EXPECT_EQ(t.intra_op, 1);
  EXPECT_EQ(t.reason, "io 1 (derived), decoders 2 (derived), intra-op 1 (derived)");

  t = plan_threads(16, {});
  EXPECT_EQ(t.io, 1);
  EXPECT_EQ(t.decoders, 16);
  t = plan_threads(17, {});
  EXPECT_EQ(t.io, 2);
  EXPECT_EQ(t.decoders, 17);
  t = plan_threads(64, {});
  EXPECT_EQ(t.io, 4);
  EXPECT_EQ(t.decoders, 64);
  t = plan_threads(0, {});  // never below one of each
  EXPECT_EQ(t.decoders, 1);
  EXPECT_EQ(t.io, 1);
}

TEST(ThreadLayout, ModelThreadsNeverExceedTheBudgetWhenDerived) {
  for (int budget = 1; budget <= 96; ++budget)
    for (int intra = 0; intra <= 8; ++intra) {
      const ThreadLayout t = plan_threads(budget, {.io = 0, .decoders = 0, .intra_op = intra});
      EXPECT_GE(t.decoders, 1);
      if (intra <= budget) {
        EXPECT_LE(t.decoders * t.intra_op, budget) << budget << " " << intra;
        EXPECT_FALSE(t.oversubscribed);
      }
      if (intra == 0) {
        EXPECT_EQ(t.decoders, budget);  // every CPU gets a decoder
      }
    }
}

TEST(ThreadLayout, ExplicitValuesWin) {
  ThreadLayout t = plan_threads(8, {.io = 3, .decoders = 0, .intra_op = 2});
  EXPECT_EQ(t.io, 3);
  EXPECT_EQ(t.intra_op, 2);
  EXPECT_EQ(t.decoders, 4);  // fills what intra-op 2 leaves
  EXPECT_EQ(t.reason, "io 3 (given), decoders 4 (derived), intra-op 2 (given)");

  t = plan_threads(2, {.io = 0, .decoders = 4, .intra_op = 2});
  EXPECT_EQ(t.decoders, 4);
  EXPECT_EQ(t.intra_op, 2);
  EXPECT_TRUE(t.oversubscribed);
  EXPECT_NE(t.reason.find("oversubscribed: decoders x intra-op = 8 > budget 2"), std::string::npos) << t.reason;

  t = plan_threads(2, {.io = 0, .decoders = 0, .intra_op = 3});  // intra-op alone above the budget
  EXPECT_EQ(t.decoders, 1);
  EXPECT_TRUE(t.oversubscribed);
}

}  // namespace
}  // namespace paraserve
