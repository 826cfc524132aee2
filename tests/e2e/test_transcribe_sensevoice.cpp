// `paraserve transcribe` with the behavioural SenseVoiceSmall model (models/behav/SenseVoiceSmall,
// docs/test-models.md): each VAD segment's text is FunASR's CTCSearch result, tags included,
// and the segment texts are joined with nothing between them (FunOfflineInferBuffer).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../models_required.h"
#include "cli_util.h"

namespace {

using paraserve::test::paraserve_bin;
using paraserve::test::run_shell;

const std::string kBehav = std::string(PARASERVE_TEST_MODELS) + "/behav";
const std::string kSv = kBehav + "/SenseVoiceSmall";

bool ready() { return std::filesystem::exists(kSv + "/model.onnx") && std::filesystem::exists(paraserve_bin()); }

#define REQUIRE_SV() \
  if (!ready()) PARASERVE_MODELS_MISSING("needs models/behav/SenseVoiceSmall and the paraserve binary")

// stdout only (stderr to /dev/null); rc in *rc.
std::string transcribe(const std::string& args, const std::string& wav, int* rc) {
  return run_shell(paraserve_bin() + " transcribe --vad-dir " + kBehav + "/vad --model-dir " + kSv + " " + args + " " +
                       kBehav + "/audio/" + wav + " 2>/dev/null",
                   rc);
}

// The expected text of a file: its sentences' `sensevoice` texts (behaviour.json) joined.
std::string expected(const std::string& wav, const std::string& key) {
  std::ifstream in(kBehav + "/behaviour.json");
  const auto j = nlohmann::json::parse(in);
  std::string text;
  for (const auto& s : j["files"][wav]["sentences"]) text += s["sensevoice"][key].get<std::string>();
  return text;
}

const std::string kZh = "<|zh|><|NEUTRAL|><|Speech|> ";
const std::string kEn = "<|en|><|NEUTRAL|><|Speech|> ";

TEST(TranscribeSenseVoice, TagsKeptSegmentsJoinedWithItn) {
  REQUIRE_SV();
  int rc = -1;
  const std::string out = transcribe("", "sample.wav", &rc);
  EXPECT_EQ(rc, 0);
  // svs_lang auto, svs_itn true (FunASR's defaults): the language tag follows the audio, and
  // <|withitn|> appends 。 (zh) or . (others). "▁hello" -> " hello" after the separator space.
  EXPECT_EQ(out, kZh + "你好世界。" + kEn + " hello world." + kZh + "我们是 server吗。\n");
  EXPECT_EQ(out, expected("sample.wav", "auto/withitn") + "\n");
}

TEST(TranscribeSenseVoice, SvsItnFalseDropsTheFullStop) {
  REQUIRE_SV();
  int rc = -1;
  const std::string out = transcribe("--svs-itn false", "sample.wav", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, kZh + "你好世界" + kEn + " hello world" + kZh + "我们是 server吗\n");
  EXPECT_EQ(out, expected("sample.wav", "auto/woitn") + "\n");
}

TEST(TranscribeSenseVoice, SvsLangIsTheLanguageInput) {
  REQUIRE_SV();
  int rc = -1;
  EXPECT_EQ(transcribe("--svs-lang en", "sample.wav", &rc),
            kEn + "你好世界." + kEn + " hello world." + kEn + "我们是 server吗.\n");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(transcribe("--svs-lang zh --svs-itn=false", "three_sentences.wav", &rc),
            expected("three_sentences.wav", "zh/woitn") + "\n");
  // ko is id 12: the behavioural model echoes its tag.
  EXPECT_EQ(transcribe("--svs-lang ko", "one_sentence.wav", &rc), "<|ko|><|NEUTRAL|><|Speech|> 你好世界.\n");
  // A language FunASR does not know is auto (id 0).
  EXPECT_EQ(transcribe("--svs-lang fr", "sample.wav", &rc), expected("sample.wav", "auto/withitn") + "\n");
}

TEST(TranscribeSenseVoice, FrontEndFromOnlineDirTokensFromOwnDir) {
  REQUIRE_SV();
  // As FunASR's 2pass: am.mvn/config.yaml from the online dir, tokens.json always from the
  // SenseVoiceSmall dir (the online dir's Paraformer vocabulary would give other text).
  int rc = -1;
  EXPECT_EQ(transcribe("--online-model-dir " + kBehav + "/online --quantize false", "sample.wav", &rc),
            expected("sample.wav", "auto/withitn") + "\n");
  EXPECT_EQ(rc, 0);
}

TEST(TranscribeSenseVoice, JsonHasSegmentsAndNoTimestamps) {
  REQUIRE_SV();
  int rc = -1;
  const std::string out = transcribe("--format json", "one_sentence.wav", &rc);
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["text"], kZh + "你好世界。");
  ASSERT_EQ(j["segments"].size(), 1u);
  EXPECT_EQ(j["segments"][0]["text"], kZh + "你好世界。");
  EXPECT_TRUE(j["timestamp"].empty());
}

TEST(TranscribeSenseVoice, ParaformerInASenseVoiceNamedDirIsAContractError) {
  REQUIRE_SV();
  // FunASR picks the model family by the path; a Paraformer export there fails the SenseVoice
  // contract with one line naming the file.
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / (std::to_string(::getpid()) + "_x") / "SenseVoiceSmall";
  fs::create_directories(dir);
  for (const char* f : {"model.onnx", "model_quant.onnx", "tokens.json", "am.mvn", "config.yaml"})
    fs::copy_file(kBehav + "/offline/" + f, dir / f, fs::copy_options::overwrite_existing);
  int rc = -1;
  const std::string out = run_shell(paraserve_bin() + " transcribe --model-dir " + dir.string() + " " + kBehav +
                                        "/audio/one_sentence.wav",
                                    &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find(dir.string() + "/model_quant.onnx: has 2 inputs, expected 4 for a sensevoice model (missing "
                                    "inputs 2 'language')"),
            std::string::npos)
      << out;
  fs::remove_all(dir.parent_path());
}

}  // namespace
