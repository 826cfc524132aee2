// The test ITN model directory (tools/modelgen/itn: zh_itn_tagger.fst + zh_itn_verbalizer.fst
// built with OpenFst's tools from the grammar there), generated on demand into the build tree.
// The generator skips when its output is up to date, so every test may call this. A failure to
// generate (no python3, no fstcompile) fails the test: it never skips.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace paraserve::testing {

// `name`: folder under <build>/test-itn/; `whitelist`: optional TSV of extra pairs
// (grammar.py --whitelist). Returns "" after adding a fatal failure.
inline std::string itn_test_dir(const std::string& name = "default", const std::string& whitelist = "") {
  const std::string dir = std::string(PARASERVE_BINARY_DIR) + "/test-itn/" + name;
  std::string cmd = "bash '" + std::string(PARASERVE_SOURCE_DIR) + "/tools/modelgen/itn/make-itn.sh' '" + dir + "'";
  if (!whitelist.empty()) cmd += " --whitelist '" + whitelist + "'";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    ADD_FAILURE() << "generating the test ITN grammar failed (rc " << rc << "): " << cmd;
    return "";
  }
  return dir;
}

// The test grammar plus tests/itn_behav_whitelist.tsv (很好 -> 100分, 世界 -> 2024年), so that
// transcripts of the behavioural models (no number words in their vocabulary) change under ITN.
inline std::string itn_behav_dir() {
  return itn_test_dir("behav", std::string(PARASERVE_SOURCE_DIR) + "/tests/itn_behav_whitelist.tsv");
}

}  // namespace paraserve::testing
