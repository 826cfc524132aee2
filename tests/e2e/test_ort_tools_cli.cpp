// Issue 11 item 3: the ONNX Runtime examination tools. `paraserve models --ops` prints op
// counts as stored and after ORT's optimiser; `bench stream --ort-profile` writes one ORT
// profile per model session, which tools/ort-profile-summary.py sums per kernel.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "../models_required.h"
#include "cli_util.h"

namespace {

namespace fs = std::filesystem;

std::string bin() { return paraserve::test::paraserve_bin(); }
std::string run(const std::string& cmd, int* rc) { return paraserve::test::run_shell(cmd, rc); }

const std::string kTiny = std::string(PARASERVE_TEST_MODELS) + "/tiny";

TEST(OrtToolsCli, ModelsOpsShowsTheQuantizedMatMulFusion) {
  if (!fs::exists(kTiny + "/online")) PARASERVE_MODELS_MISSING("models/tiny not generated");
  int rc = -1;
  const std::string out = run(bin() + " models --ops --quantize true " + kTiny + "/online", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("online/model_quant.onnx: "), std::string::npos) << out;
  EXPECT_NE(out.find("online/decoder_quant.onnx: "), std::string::npos) << out;
  EXPECT_EQ(out.find("online/model.onnx"), std::string::npos) << "fp32 file listed with --quantize true\n" << out;
  // "  MatMulInteger   <stored> 0" and "  com.microsoft:DynamicQuantizeMatMul  0 <n>".
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n  MatMulInteger +[1-9][0-9]* +0\n)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n  com\.microsoft:DynamicQuantizeMatMul +0 +[1-9][0-9]*\n)")))
      << out;

  const std::string bad = run(bin() + " models --ops " + kTiny + "/online/am.mvn", &rc);
  EXPECT_EQ(rc, 1) << bad;
  EXPECT_NE(bad.find("am.mvn: not an ONNX model"), std::string::npos) << bad;
}

TEST(OrtToolsCli, BenchStreamWritesOneProfilePerSession) {
  if (!fs::exists(kTiny + "/online")) PARASERVE_MODELS_MISSING("models/tiny not generated");
  const fs::path dir = fs::temp_directory_path() / ("paraserve-ort-profile-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  int rc = -1;
  const std::string out = run(bin() + " bench stream --models " + kTiny + " --streams 1 --seconds 3 --ort-profile " +
                                  (dir / "p-").string(),
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string online;
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    if (e.path().filename().string().rfind("p-online_model_quant_", 0) == 0) online = e.path().string();
  }
  EXPECT_GE(files, 4) << "vad, online encoder + decoder, offline, punc";
  ASSERT_FALSE(online.empty()) << out;
  const std::string summary =
      run("/usr/bin/python3 " + std::string(PARASERVE_SOURCE_DIR) + "/tools/ort-profile-summary.py " + online, &rc);
  EXPECT_EQ(rc, 0) << summary;
  EXPECT_TRUE(std::regex_search(summary, std::regex(R"(\n  DynamicQuantizeMatMul +[1-9][0-9]* )"))) << summary;
  EXPECT_NE(summary.find("CPUExecutionProvider"), std::string::npos) << summary;
}

}  // namespace
