// File resolution (FunASR's quantize rule), config.yaml parsing and tokens.json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "fixture.h"
#include "models/config.h"
#include "models/model_dir.h"
#include "models/vocab.h"

namespace paraserve {
namespace {

using test::error_of;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("paraserve_md_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string dir() const { return dir_.string(); }
  fs::path dir_;
};

using ModelDir = TempDir;

TEST(QuantizeRule, OnlyExactTrueSelectsQuantized) {
  EXPECT_TRUE(quantize_selected("true"));
  for (const char* f : {"True", "TRUE", "1", "yes", "false", "", " true"}) EXPECT_FALSE(quantize_selected(f)) << f;
}

TEST_F(ModelDir, ResolvesPerFlag) {
  write("model.onnx", "x");
  write("model_quant.onnx", "x");
  EXPECT_EQ(resolve_onnx(dir(), "model", "true"), dir() + "/model_quant.onnx");
  EXPECT_EQ(resolve_onnx(dir(), "model", "True"), dir() + "/model.onnx");
  EXPECT_EQ(resolve_onnx(dir() + "/", "model", "false"), dir() + "/model.onnx");
}

TEST_F(ModelDir, MissingFileNamesDirFileAndFlag) {
  write("model.onnx", "x");
  const std::string e = error_of([&] { resolve_onnx(dir(), "model", "true"); });
  EXPECT_THAT(e, HasSubstr(dir()));
  EXPECT_THAT(e, HasSubstr("model_quant.onnx"));
  EXPECT_THAT(e, HasSubstr("'true'"));
  EXPECT_EQ(e.find('\n'), std::string::npos);
  const std::string e2 = error_of([&] { resolve_onnx(dir(), "decoder", "True"); });
  EXPECT_THAT(e2, HasSubstr("missing decoder.onnx"));
  EXPECT_THAT(e2, HasSubstr("'True'"));
  EXPECT_THAT(error_of([&] { require_file(dir(), "am.mvn", "VAD CMVN"); }), HasSubstr("missing am.mvn"));
  EXPECT_THAT(error_of([&] { require_file(dir() + "/nope", "am.mvn"); }), HasSubstr("not a directory"));
}

using Config = TempDir;

const char* kOnlineYaml =
    "frontend_conf:\n  fs: 16000\n  window: hamming\n  n_mels: 80\n  frame_length: 25\n  frame_shift: 10\n"
    "  lfr_m: 7\n  lfr_n: 6\nencoder_conf:\n  output_size: 256\ndecoder_conf:\n  num_blocks: 4\n  kernel_size: 11\n"
    "predictor_conf:\n  threshold: 0.9\n  tail_threshold: 0.5\n";

TEST_F(Config, OnlineValues) {
  const auto c = load_online_asr_config(write("config.yaml", kOnlineYaml));
  EXPECT_EQ(c.encoder_size, 256);
  EXPECT_EQ(c.fsmn_layers, 4);
  EXPECT_EQ(c.fsmn_lorder, 10);
  EXPECT_FLOAT_EQ(c.cif_threshold, 0.9f);
  EXPECT_FLOAT_EQ(c.tail_alphas, 0.5f);
  EXPECT_EQ(c.frontend.lfr_m, 7);
  EXPECT_EQ(c.frontend.lfr_n, 6);
  EXPECT_EQ(c.frontend.fbank.window, "hamming");
  EXPECT_FLOAT_EQ(c.frontend.fbank.frame_length_ms, 25.0f);
}

TEST_F(Config, OnlineMissingKeyNamesFileAndKey) {
  std::string y = kOnlineYaml;
  y.replace(y.find("  kernel_size: 11\n"), 17, "");
  const std::string p = write("config.yaml", y);
  const std::string e = error_of([&] { load_online_asr_config(p); });
  EXPECT_THAT(e, HasSubstr(p));
  EXPECT_THAT(e, HasSubstr("decoder_conf.kernel_size"));
}

TEST_F(Config, BadTypeAndBadYaml) {
  std::string y = kOnlineYaml;
  y.replace(y.find("output_size: 256"), 16, "output_size: big");
  const std::string p = write("config.yaml", y);
  EXPECT_THAT(error_of([&] { load_online_asr_config(p); }), HasSubstr("encoder_conf.output_size: expected an integer"));
  const std::string q = write("broken.yaml", "frontend_conf: [1, 2\n");
  EXPECT_THAT(error_of([&] { load_online_asr_config(q); }), HasSubstr("invalid YAML"));
  EXPECT_THAT(error_of([&] { load_online_asr_config(dir() + "/none.yaml"); }), HasSubstr("cannot open"));
  std::string z = kOnlineYaml;
  z.replace(z.find("num_blocks: 4"), 13, "num_blocks: 0");
  const std::string r = write("zero.yaml", z);
  EXPECT_THAT(error_of([&] { load_online_asr_config(r); }), HasSubstr("decoder_conf.num_blocks is 0"));
}

TEST_F(Config, VadFourValuesAndDefaults) {
  const std::string fe =
      "frontend_conf:\n  fs: 16000\n  window: hamming\n  n_mels: 80\n  frame_length: 25\n  frame_shift: 10\n"
      "  dither: 0.0\n";
  auto c = load_vad_config(write("a.yaml", fe + "model_conf:\n  max_end_silence_time: 500\n"
                                                "  max_single_segment_time: 60000\n  speech_noise_thres: 0.6\n"));
  EXPECT_EQ(c.max_end_silence_time, 500);
  EXPECT_EQ(c.max_single_segment_time, 60000);
  EXPECT_FLOAT_EQ(c.speech_noise_thres, 0.6f);
  EXPECT_EQ(c.lfr_m, 5);
  EXPECT_EQ(c.lfr_n, 1);
  EXPECT_EQ(c.fbank.sample_rate, 16000);
  // Absent model_conf keys: FunASR's compiled-in constants.
  c = load_vad_config(write("b.yaml", fe));
  EXPECT_EQ(c.max_end_silence_time, 800);
  EXPECT_EQ(c.max_single_segment_time, 15000);
  EXPECT_FLOAT_EQ(c.speech_noise_thres, 0.9f);
  // frontend_conf keys are required as in FunASR.
  const std::string p = write("c.yaml", "frontend_conf:\n  fs: 16000\n");
  EXPECT_THAT(error_of([&] { load_vad_config(p); }), HasSubstr("missing frontend_conf.n_mels"));
}

TEST_F(Config, AsrFrontendDefaultsForOfflineDir) {
  auto c = load_asr_frontend_config(write("a.yaml", "frontend_conf:\n  fs: 8000\n"));
  EXPECT_EQ(c.fbank.sample_rate, 8000);
  EXPECT_EQ(c.lfr_m, 7);
  EXPECT_EQ(c.lfr_n, 6);
  EXPECT_EQ(c.fbank.n_mels, 80);
}

TEST_F(Config, PuncList) {
  auto c = load_punc_config(
      write("a.yaml", "model_conf:\n  punc_list:\n  - <unk>\n  - _\n  - ，\n  - 。\n  - ？\n  - 、\nseg_jieba: true\n"));
  ASSERT_EQ(c.punc_list.size(), 6u);
  EXPECT_EQ(c.punc_list[2], "，");
  EXPECT_EQ(c.punc_list[5], "、");
  EXPECT_TRUE(c.seg_jieba);
  const std::string p = write("b.yaml", "model_conf:\n  embed_unit: 256\n");
  EXPECT_THAT(error_of([&] { load_punc_config(p); }), HasSubstr("missing model_conf.punc_list"));
}

using VocabFile = TempDir;

TEST_F(VocabFile, LoadsArrayAndLooksUp) {
  const auto v = Vocab::load_json(write("tokens.json", R"(["<blank>", "<s>", "</s>", "你", "hello", "he@@", "<unk>"])"));
  EXPECT_EQ(v.size(), 7);
  EXPECT_EQ(v.token(3), "你");
  EXPECT_EQ(v.id("hello"), 4);
  EXPECT_EQ(v.id("he@@"), 5);
  EXPECT_EQ(v.id("absent"), -1);
  EXPECT_THROW(v.token(7), Error);
  EXPECT_THROW(v.token(-1), Error);
}

TEST_F(VocabFile, DuplicateLastWins) {
  const auto v = Vocab::load_json(write("tokens.json", R"(["a", "b", "a"])"));
  EXPECT_EQ(v.id("a"), 2);
}

TEST_F(VocabFile, Errors) {
  EXPECT_THAT(error_of([&] { Vocab::load_json(dir() + "/none.json"); }), HasSubstr("cannot open"));
  EXPECT_THAT(error_of([&] { Vocab::load_json(write("a.json", "{\"a\": 1}")); }), HasSubstr("expected a JSON array"));
  EXPECT_THAT(error_of([&] { Vocab::load_json(write("b.json", "[\"a\", 3]")); }), HasSubstr("element 1 is not a string"));
  EXPECT_THAT(error_of([&] { Vocab::load_json(write("c.json", "[\"a\", ")); }), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_of([&] { Vocab::load_json(write("d.json", "[]")); }), HasSubstr("empty"));
}

}  // namespace
}  // namespace paraserve
