// Replays every committed fuzz input (tests/fuzz/<target>/corpus and .../regressions)
// through the same entry functions the libFuzzer targets use, in the normal build: a
// crash input found by scripts/fuzz.sh and fixed stays fixed (a regression aborts this
// test). The folders must exist and hold inputs: an empty folder fails rather than passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_targets.h"

namespace fs = std::filesystem;
using paraserve::fuzz::kTargets;
using paraserve::fuzz::Target;

namespace {

std::vector<fs::path> inputs(const std::string& target, const char* kind) {
  const fs::path dir = fs::path(PARASERVE_SOURCE_DIR) / "tests" / "fuzz" / target / kind;
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

// Feeds each file to the target (an invariant violation or crash aborts the test program);
// returns how many there were.
std::size_t replay(const Target& t, const char* kind) {
  const auto files = inputs(t.name, kind);
  for (const auto& p : files) {
    SCOPED_TRACE(p.string());
    const auto bytes = read_bytes(p);
    EXPECT_EQ(t.entry(bytes.data(), bytes.size()), 0);
  }
  return files.size();
}

}  // namespace

TEST_P(FuzzReplay, SeedCorpus) {
  EXPECT_GT(replay(GetParam(), "corpus"), 0u) << "no inputs in tests/fuzz/" << GetParam().name << "/corpus";
}

// Inputs that once crashed a target or broke an invariant (each fixed; see docs/testing.md).
// Only some targets have any, so the count is checked over all of them.
TEST(FuzzRegressions, EveryKeptInputStillPasses) {
  std::size_t n = 0;
  for (const Target& t : kTargets) n += replay(t, "regressions");
  EXPECT_GE(n, 2u) << "the committed regression inputs are missing";
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& i) { return std::string(i.param.name); });
