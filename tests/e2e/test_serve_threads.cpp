// Issue 11 item 3: `paraserve serve` derives its thread layout from the CPUs it may use and
// prints it; explicit flags win. The server is started with empty model folders, so it
// prints the layout and then stops at model loading (no models needed, no port opened).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli_util.h"
#include "common/cpu_budget.h"

namespace {

namespace fs = std::filesystem;

std::string bin() { return paraserve::test::paraserve_bin(); }

// Runs `paraserve serve` with empty model folders on the first `cpus` CPUs of this
// process's affinity mask (the child inherits the mask of the thread that starts it).
class ServeThreads : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::sched_getaffinity(0, sizeof original_, &original_), 0);
    dir_ = fs::temp_directory_path() / ("paraserve-serve-threads-" + std::to_string(::getpid()));
    for (const char* sub : {"vad", "online", "offline", "punc"}) fs::create_directories(dir_ / sub);
  }
  void TearDown() override {
    ::sched_setaffinity(0, sizeof original_, &original_);
    fs::remove_all(dir_);
  }
  int allowed() const { return CPU_COUNT(&original_); }

  std::string serve(int cpus, const std::string& flags) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0, n = 0; c < CPU_SETSIZE && n < cpus; ++c)
      if (CPU_ISSET(c, &original_)) {
        CPU_SET(c, &set);
        ++n;
      }
    EXPECT_EQ(::sched_setaffinity(0, sizeof set, &set), 0);
    const std::string d = dir_.string();
    const std::string cmd = bin() + " serve --port 0 --vad-dir " + d + "/vad --online-model-dir " + d +
                            "/online --model-dir " + d + "/offline --punc-dir " + d + "/punc " + flags + " 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (p) {
      char buf[4096];
      std::size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      const int status = pclose(p);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "expected a model-loading failure:\n" << out;
    }
    ::sched_setaffinity(0, sizeof original_, &original_);
    return out;
  }

  cpu_set_t original_{};
  fs::path dir_;
};

TEST_F(ServeThreads, OneCpuGivesOneDecoder) {
  ASSERT_TRUE(fs::exists(bin())) << bin();
  const std::string out = serve(1, "");
  EXPECT_NE(out.find("threads: budget 1 (affinity 1, cgroup "), std::string::npos) << out;
  EXPECT_NE(out.find("-> io 1 (derived), decoders 1 (derived), intra-op 1 (derived)"), std::string::npos) << out;
}

TEST_F(ServeThreads, DecodersFillTheBudgetAndFlagsWin) {
  if (allowed() < 2) GTEST_SKIP() << "needs 2 CPUs in the affinity mask, this process has " << allowed();
  // What the server will see: 2 CPUs of affinity, then whatever cgroup quota applies.
  cpu_set_t two;
  CPU_ZERO(&two);
  for (int c = 0, n = 0; c < CPU_SETSIZE && n < 2; ++c)
    if (CPU_ISSET(c, &original_)) {
      CPU_SET(c, &two);
      ++n;
    }
  ASSERT_EQ(::sched_setaffinity(0, sizeof two, &two), 0);
  const int budget = paraserve::read_cpu_budget().cpus;
  ::sched_setaffinity(0, sizeof original_, &original_);

  std::string out = serve(2, "");
  EXPECT_NE(out.find("threads: budget " + std::to_string(budget) + " (affinity 2, cgroup "), std::string::npos) << out;
  EXPECT_NE(out.find("decoders " + std::to_string(budget) + " (derived), intra-op 1 (derived)"), std::string::npos)
      << out;

  if (budget == 2) {
    out = serve(2, "--model-thread-num 2");  // intra-op threads take the CPUs of a decoder
    EXPECT_NE(out.find("-> io 1 (derived), decoders 1 (derived), intra-op 2 (given)"), std::string::npos) << out;
    EXPECT_NE(out.find("ort_intra_threads=2"), std::string::npos) << out;
  }

  out = serve(2, "--decoder-thread-num 3 --io-thread-num 2");
  EXPECT_NE(out.find("-> io 2 (given), decoders 3 (given), intra-op 1 (derived); oversubscribed"),
            std::string::npos)
      << out;
}

}  // namespace
