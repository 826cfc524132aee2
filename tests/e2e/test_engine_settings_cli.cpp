// Issue 9: one engine configuration everywhere. `serve`, `transcribe`, `bench stream`,
// `bench offline` and `bench batch` register the same allocator / ONNX Runtime flags with the same defaults,
// and the settings a command runs with are the ones it prints.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "cli_util.h"

namespace {

using paraserve::test::paraserve_bin;
using paraserve::test::run_shell;

std::string bin() { return paraserve_bin(); }

// `paraserve ARGS`, with ENV assignments (e.g. "MALLOC_CONF=narenas:3") in front when given.
std::string run_env(const std::string& env, const std::string& args, int* rc = nullptr) {
  return run_shell((env.empty() ? "" : env + " ") + bin() + " " + args, rc);
}
std::string run(const std::string& args, int* rc = nullptr) { return run_env("", args, rc); }

const char* const kEngineFlags[] = {"--ort-cpu-arena",          "--ort-mem-pattern",
                                    "--ort-allow-spinning",     "--jemalloc-background-thread",
                                    "--jemalloc-dirty-decay-ms", "--jemalloc-muzzy-decay-ms",
                                    "--malloc-arena-max",       "--malloc-mmap-threshold",
                                    "--malloc-trim-threshold",  "--allocator-idle-purge-ms",
                                    "--allocator-unused-cap-mb"};

// flag -> default value as printed by --help.
std::map<std::string, std::string> defaults_in_help(const std::string& help) {
  std::map<std::string, std::string> d;
  for (const char* flag : kEngineFlags) {
    std::smatch m;
    const std::regex re(std::string(flag) + R"(\s+[A-Z]+=(\S+))");  // "--flag INT=1000"
    if (std::regex_search(help, m, re)) d[flag] = m[1];
  }
  return d;
}

TEST(EngineSettingsCli, SameFlagsAndDefaultsInEveryModelCommand) {
  ASSERT_TRUE(std::filesystem::exists(bin())) << bin();
  const auto serve = defaults_in_help(run("serve --help"));
  ASSERT_EQ(serve.size(), std::size(kEngineFlags)) << run("serve --help");
  for (const char* cmd : {"transcribe --help", "bench stream --help", "bench offline --help", "bench batch --help"}) {
    const auto other = defaults_in_help(run(cmd));
    EXPECT_EQ(other, serve) << cmd;
  }
}

TEST(EngineSettingsCli, TranscribePrintsTheSettingsItApplies) {
  const std::string behav = std::string(PARASERVE_TEST_MODELS) + "/behav";
  ASSERT_TRUE(std::filesystem::exists(behav + "/behaviour.json")) << "models/behav missing (scripts/make-models.sh behav)";
  int rc = -1;
  const std::string out = run("transcribe --verbose --jemalloc-dirty-decay-ms 777 --ort-cpu-arena true --model-dir " +
                                  behav + "/offline-ts --quantize false " + behav + "/audio/sample.wav",
                              &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ort_cpu_arena=true"), std::string::npos) << out;
  // The default build links jemalloc (another allocator prints its own settings instead).
  if (out.find("allocator jemalloc") != std::string::npos) {
    EXPECT_NE(out.find("jemalloc_dirty_decay_ms=777"), std::string::npos) << out;
    // One arena (the binary's malloc_conf), and the load-time pages given back after loading.
    EXPECT_NE(out.find("jemalloc_narenas=1 jemalloc_tcache_max=1024 "), std::string::npos) << out;
    EXPECT_NE(out.find("allocator: returned"), std::string::npos) << out;
  }
}

// MALLOC_CONF in the environment still overrides the binary's built-in jemalloc options.
TEST(EngineSettingsCli, MallocConfEnvironmentWins) {
  const std::string tiny = std::string(PARASERVE_TEST_MODELS) + "/tiny";
  int rc = -1;
  const std::string out =
      run("bench stream --models " + tiny + " --quantize false --streams 1 --seconds 1", &rc);
  ASSERT_EQ(rc, 0) << out;
  if (out.find("allocator jemalloc") == std::string::npos) GTEST_SKIP() << "not a jemalloc build: " << out;
  EXPECT_NE(out.find("jemalloc_narenas=1 "), std::string::npos) << out;
  const std::string env = run_env("MALLOC_CONF=narenas:3", "bench stream --models " + tiny +
                                                              " --quantize false --streams 1 --seconds 1", &rc);
  ASSERT_EQ(rc, 0) << env;
  EXPECT_NE(env.find("jemalloc_narenas=3 "), std::string::npos) << env;
}

// `bench batch` (issue 11) runs the batched streaming calls and reports, per B, how far
// request 0's batched output is from its single-request output: rounding-level for fp32.
TEST(EngineSettingsCli, BenchBatchRunsAndBatchedEqualsSingle) {
  const std::string tiny = std::string(PARASERVE_TEST_MODELS) + "/tiny";
  ASSERT_TRUE(std::filesystem::exists(tiny + "/online/model.onnx")) << "models/tiny missing (scripts/make-models.sh tiny)";
  int rc = -1;
  const std::string out = run("bench batch --models " + tiny + " --quantize false --seconds 0.01 --batches 1,3", &rc);
  ASSERT_EQ(rc, 0) << out;
  for (const char* title : {"online encoder", "online decoder (rows", "online decoder, N = 1,2,3,4"})
    EXPECT_NE(out.find(title), std::string::npos) << title << "\n" << out;
  // Rows "B calls ms CPU-ms rows/s ratio max|d|": B = 3 of the encoder and equal-N decoder tables.
  const std::regex row(R"(\n\s+3\s+\d+\s+[\d.]+\s+[\d.]+\s+\d+\s+[\d.]+x\s+(\S+))");
  int checked = 0;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), row); it != std::sregex_iterator(); ++it) {
    if ((*it)[1] == "-") continue;  // the mixed-N table has no parity column
    EXPECT_LE(std::stod((*it)[1]), 1e-5) << out;
    ++checked;
  }
  EXPECT_EQ(checked, 2) << out;
  EXPECT_NE(run("bench batch --models " + tiny + " --batches 1,65", &rc).find("--batches item '65'"), std::string::npos);
  EXPECT_NE(rc, 0);
}

}  // namespace
