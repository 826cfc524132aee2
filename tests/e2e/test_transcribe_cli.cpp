// `paraserve transcribe` end to end through the built binary (PARASERVE_BIN, set by CTest),
// with the behavioural models. Expected texts follow docs/test-models.md and the offline
// punctuation rules (funasr-compat.md §3.5.2) applied to behaviour.json by hand.
#include <gtest/gtest.h>

#include "../models_required.h"
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

std::string bin() {
  const char* b = std::getenv("PARASERVE_BIN");
  if (b && *b) return b;
  return std::string(PARASERVE_BINARY_DIR) + "/paraserve";
}

const std::string kBehav = std::string(PARASERVE_TEST_MODELS) + "/behav";

struct CliRun {
  int rc = -1;
  std::string out, err;
};

CliRun run(const std::string& args) {
  const std::string err_file = ::testing::TempDir() + "/transcribe_stderr.txt";
  const std::string cmd = bin() + " " + args + " 2>" + err_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

std::string models_args(const std::string& offline = "offline-ts", const std::string& punc = "punc-offline") {
  return "transcribe --vad-dir " + kBehav + "/vad --model-dir " + kBehav + "/" + offline + " --online-model-dir " +
         kBehav + "/online --punc-dir " + kBehav + "/" + punc + " --quantize false --vad-quant false --punc-quant false ";
}

bool ready() { return std::filesystem::exists(kBehav + "/behaviour.json") && std::filesystem::exists(bin()); }

#define REQUIRE_READY() \
  if (!ready()) PARASERVE_MODELS_MISSING("needs models/behav and the paraserve binary")

// Offline punctuation of the joined raw texts with punc_table (好→，, 界→。, 吗→？, world→。):
// "你好世界" -> "你好，世界。"; the last window always ends in 。/？ (§3.5.2).
TEST(TranscribeCli, TextOutput) {
  REQUIRE_READY();
  CliRun r = run(models_args() + kBehav + "/audio/one_sentence.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "你好，世界。\n");
  // "今天气很好" + "hello world" + "我们是server吗": 好→，, world→。, 吗→？ ends the text.
  r = run(models_args() + kBehav + "/audio/three_sentences.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "今天气很好，hello world。我们是server吗？\n");
  // No punctuation model and no VAD: raw text of the whole file as one segment.
  r = run("transcribe --model-dir " + kBehav + "/offline --quantize false " + kBehav + "/audio/one_sentence.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "你好世界\n");
  // A realtime punctuation model also serves the offline algorithm.
  r = run(models_args("offline", "punc") + kBehav + "/audio/no_trailing_silence.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "你好，吗？\n");
}

TEST(TranscribeCli, JsonHasTimestampsAndSentences) {
  REQUIRE_READY();
  CliRun r = run(models_args() + "--format json " + kBehav + "/audio/one_sentence.wav");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["text"], "你好，世界。");
  ASSERT_EQ(j["timestamp"].size(), 4u);
  const double onsets[] = {500, 860, 1220, 1580};  // behaviour.json word_onsets_s
  for (int k = 0; k < 4; ++k) {
    const double b = j["timestamp"][k][0].get<double>();
    EXPECT_GE(b, onsets[k] - 16);  // docs/test-models.md: within [-15, +45] ms of the onset
    EXPECT_LE(b, onsets[k] + 46);
  }
  ASSERT_EQ(j["stamp_sents"].size(), 2u);  // "你好，" and "世界。"
  EXPECT_EQ(j["stamp_sents"][0]["punc"], "，");
  EXPECT_EQ(j["stamp_sents"][1]["punc"], "。");
  EXPECT_NEAR(j["duration"].get<double>(), 3.44, 0.01);
  EXPECT_GE(j["rtf"].get<double>(), 0.0);
}

TEST(TranscribeCli, SrtHasOneCuePerSentence) {
  REQUIRE_READY();
  CliRun r = run(models_args() + "--format srt " + kBehav + "/audio/one_sentence.wav");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("1\n00:00:00,", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n你好，\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n世界。\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n3\n"), std::string::npos) << r.out;
}

TEST(TranscribeCli, BadFileFailsAloneWithNonZeroExit) {
  REQUIRE_READY();
  const std::string bad = ::testing::TempDir() + "/not_audio.wav";
  {
    std::ofstream f(bad);
    f << "this is not audio";
  }
  CliRun r = run(models_args() + "--threads 2 " + kBehav + "/audio/one_sentence.wav " + bad + " " + kBehav +
              "/audio/no_trailing_silence.wav");
  EXPECT_NE(r.rc, 0);
  // The good files are still transcribed, in input order.
  const std::string a = kBehav + "/audio/one_sentence.wav\t你好，世界。\n";
  const std::string b = kBehav + "/audio/no_trailing_silence.wav\t";
  EXPECT_EQ(r.out.rfind(a, 0), 0u) << r.out;
  EXPECT_NE(r.out.find(b), std::string::npos) << r.out;
  // Exactly one error line, naming the file.
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(TranscribeCli, MissingModelDirIsAClearError) {
  REQUIRE_READY();
  CliRun r = run("transcribe --model-dir /nonexistent/dir " + kBehav + "/audio/one_sentence.wav");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("/nonexistent/dir"), std::string::npos) << r.err;
}

}  // namespace
