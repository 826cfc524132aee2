// Issue 9: one engine configuration everywhere. `serve`, `transcribe`, `bench stream` and
// `bench offline` register the same allocator / ONNX Runtime flags with the same defaults,
// and the settings a command runs with are the ones it prints.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <string>

namespace {

std::string bin() {
  const char* b = std::getenv("PARASERVE_BIN");
  if (b && *b) return b;
  return std::string(PARASERVE_BINARY_DIR) + "/paraserve";
}

std::string run(const std::string& args, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((bin() + " " + args + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

const char* const kEngineFlags[] = {"--ort-cpu-arena",          "--ort-mem-pattern",
                                    "--ort-allow-spinning",     "--jemalloc-background-thread",
                                    "--jemalloc-dirty-decay-ms", "--jemalloc-muzzy-decay-ms",
                                    "--malloc-arena-max",       "--malloc-mmap-threshold",
                                    "--malloc-trim-threshold"};

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
  for (const char* cmd : {"transcribe --help", "bench stream --help", "bench offline --help"}) {
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
  }
}

}  // namespace
