// Tests that need the generated models skip without them, except under CI (CI=true), where
// they fail (tests/models_required.h). Checked on a child run of this program.
#include <gtest/gtest.h>

#include "../models_required.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace paraserve {
namespace {

TEST(ModelsRequired, ChildWithoutModels) {
  if (!std::getenv("PARASERVE_MODELS_REQUIRED_CHILD")) GTEST_SKIP() << "only run as a child";
  PARASERVE_MODELS_MISSING("models/probe not generated");
  ADD_FAILURE() << "not reached: the macro returns";
}

// Runs this program on ChildWithoutModels with `env`; returns its exit status and output.
int run_child(const std::string& env, std::string& output) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = env + " PARASERVE_MODELS_REQUIRED_CHILD=1 '" + self +
                          "' --gtest_filter=ModelsRequired.ChildWithoutModels 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) output += buf.data();
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ModelsRequired, SkipLocallyFailUnderCi) {
  std::string local, ci, other;
  EXPECT_EQ(run_child("env -u CI", local), 0) << local;
  EXPECT_NE(local.find("[  SKIPPED ] ModelsRequired.ChildWithoutModels"), std::string::npos) << local;
  EXPECT_NE(local.find("models/probe not generated"), std::string::npos) << local;

  EXPECT_NE(run_child("env CI=true", ci), 0) << ci;
  EXPECT_NE(ci.find("[  FAILED  ] ModelsRequired.ChildWithoutModels"), std::string::npos) << ci;
  EXPECT_NE(ci.find("models/probe not generated (CI=true"), std::string::npos) << ci;
  EXPECT_EQ(ci.find("not reached"), std::string::npos) << ci;

  // Only the value "true" counts (CI=false, as some runners set it locally, skips).
  EXPECT_EQ(run_child("env CI=false", other), 0) << other;
}

}  // namespace
}  // namespace paraserve
