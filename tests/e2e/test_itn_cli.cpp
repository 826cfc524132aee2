// `paraserve transcribe --itn-dir` and `paraserve models` on an ITN directory, through the
// built binary, with the behavioural models and the test ITN grammar (+ the behavioural
// whitelist: 很好 -> 100分, 世界 -> 2024年).
#include <gtest/gtest.h>

#include "../itn_fixture.h"
#include "../models_required.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "cli_util.h"

namespace {

namespace fs = std::filesystem;
using paraserve::test::paraserve_bin;
using paraserve::test::run_shell;

const std::string kBehav = std::string(PARASERVE_TEST_MODELS) + "/behav";

std::string transcribe_args(const std::string& itn_dir, const std::string& wav) {
  return paraserve_bin() + " transcribe --vad-dir " + kBehav + "/vad --model-dir " + kBehav +
         "/offline-ts --online-model-dir " + kBehav + "/online --punc-dir " + kBehav +
         "/punc-offline --quantize false --vad-quant false --punc-quant false" +
         (itn_dir.empty() ? "" : " --itn-dir " + itn_dir) + " --format json " + kBehav + "/audio/" + wav;
}

#define REQUIRE_BEHAV()                                      \
  if (!fs::exists(kBehav + "/behaviour.json"))               \
  PARASERVE_MODELS_MISSING("models/behav not generated (scripts/make-models.sh behav)")

TEST(ItnCli, TranscribeNormalisesTextAndStamps) {
  REQUIRE_BEHAV();
  const std::string itn = paraserve::testing::itn_behav_dir();
  ASSERT_FALSE(itn.empty());
  int rc = -1;
  const std::string raw_out = run_shell(transcribe_args("", "three_sentences.wav") + " 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << raw_out;
  const std::string itn_out = run_shell(transcribe_args(itn, "three_sentences.wav") + " 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << itn_out;
  const auto raw = nlohmann::json::parse(raw_out);
  const auto got = nlohmann::json::parse(itn_out);
  EXPECT_EQ(raw["text"], "今天气很好，hello world。我们是server吗？");
  EXPECT_EQ(got["text"], "今天气100分，hello world。我们是server吗？");
  ASSERT_EQ(raw["timestamp"].size(), 12u);
  ASSERT_EQ(got["timestamp"].size(), 14u);  // 很 好 -> 1 0 0 分
  EXPECT_EQ(got["timestamp"][3][0], raw["timestamp"][3][0]);
  EXPECT_EQ(got["timestamp"][6][1], raw["timestamp"][4][1]);
  EXPECT_EQ(got["timestamp"][13], raw["timestamp"][11]);
  EXPECT_EQ(got["stamp_sents"][0]["text_seg"], "今 天 气 1 0 0 分 ，hello world");
  // The raw segment texts are not normalised (FunASR's ITN runs on the punctuated text).
  EXPECT_EQ(got["segments"], raw["segments"]);
}

TEST(ItnCli, TranscribeRejectsABadItnDirNamingTheFile) {
  REQUIRE_BEHAV();
  const fs::path dir = fs::path(::testing::TempDir()) / ("itn_bad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  int rc = 0;
  std::string out = run_shell(transcribe_args(dir.string(), "one_sentence.wav"), &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--itn-dir " + dir.string() + ": not a directory"), std::string::npos) << out;

  fs::create_directories(dir);
  const std::string good = paraserve::testing::itn_test_dir();
  ASSERT_FALSE(good.empty());
  fs::copy_file(fs::path(good) / "zh_itn_tagger.fst", dir / "zh_itn_tagger.fst");
  out = run_shell(transcribe_args(dir.string(), "one_sentence.wav"), &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("missing zh_itn_verbalizer.fst"), std::string::npos) << out;

  std::ofstream(dir / "zh_itn_verbalizer.fst") << "garbage";
  out = run_shell(transcribe_args(dir.string(), "one_sentence.wav"), &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find((dir / "zh_itn_verbalizer.fst").string() + ": not a valid ITN verbaliser"), std::string::npos)
      << out;
  fs::remove_all(dir);
}

TEST(ItnCli, ServeHelpListsItnDirAsBuilt) {
  int rc = -1;
  const std::string out = run_shell(paraserve_bin() + " serve --help", &rc);
  ASSERT_EQ(rc, 0) << out;
  const auto at = out.find("--itn-dir");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string line = out.substr(at, out.find('\n', at) - at);
  EXPECT_EQ(line.find("ignored"), std::string::npos) << line;
}

TEST(ItnCli, ModelsDescribesAnItnDir) {
  const std::string itn = paraserve::testing::itn_test_dir();
  ASSERT_FALSE(itn.empty());
  int rc = -1;
  const std::string out = run_shell(paraserve_bin() + " models " + itn, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("itn: " + itn + "/zh_itn_tagger.fst ("), std::string::npos) << out;
}

}  // namespace
