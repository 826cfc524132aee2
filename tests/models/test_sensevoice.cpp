// SenseVoiceSmall: contract checks on hand-built models (make_contract_models.py), the
// input ids FunASR sends, CTC greedy decoding and FunASR's CTCSearch text rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixture.h"
#include "models/sensevoice.h"

namespace paraserve {
namespace {

using ::testing::HasSubstr;
using test::bad;
using test::error_of;
using test::good;

TEST(SenseVoiceContract, GoodModelLoadsBothFlags) {
  OrtRuntime rt;
  for (const char* q : {"false", "true"}) {
    auto m = SenseVoiceModel::load(good("SenseVoiceSmall"), q, rt);
    EXPECT_EQ(m->info().kind, "sensevoice");
    EXPECT_EQ(m->info().quantized, std::string(q) == "true");
    EXPECT_THAT(m->info().path, HasSubstr(std::string(q) == "true" ? "model_quant.onnx" : "/model.onnx"));
    EXPECT_EQ(m->vocab().size(), 6);
    EXPECT_EQ(m->vocab().token(3), "\xE2\x96\x81" "a");
  }
  // encoder_out_lens as int64 is accepted (never read).
  EXPECT_NO_THROW(SenseVoiceModel::load(good("SenseVoiceSmall-lens-int64"), "false", rt));
}

TEST(SenseVoiceContract, WrongDtypeNamesFileAndInput) {
  OrtRuntime rt;
  const std::string dir = bad("SenseVoiceSmall-language-int64");
  EXPECT_EQ(error_of([&] { SenseVoiceModel::load(dir, "true", rt); }),
            dir + "/model_quant.onnx: input 2 is 'language' int64, expected int32");
}

TEST(SenseVoiceContract, WrongNameNamesFileAndInput) {
  OrtRuntime rt;
  const std::string dir = bad("SenseVoiceSmall-renamed");
  EXPECT_EQ(error_of([&] { SenseVoiceModel::load(dir, "false", rt); }),
            dir + "/model.onnx: input 3 is 'text_norm', expected 'textnorm'");
}

TEST(SenseVoiceContract, WrongShapeNamesFileAndDim) {
  OrtRuntime rt;
  const std::string dir = bad("SenseVoiceSmall-80-dims");
  EXPECT_EQ(error_of([&] { SenseVoiceModel::load(dir, "false", rt); }),
            dir + "/model.onnx: input 0 'speech' has shape [1,?,80], expected [1,?,560] (dim 2)");
}

TEST(SenseVoiceContract, TokenCountMustMatchLogits) {
  OrtRuntime rt;
  const std::string dir = bad("SenseVoiceSmall-5-tokens");
  EXPECT_EQ(error_of([&] { SenseVoiceModel::load(dir, "false", rt); }),
            dir + "/model.onnx: ctc_logits has 6 classes but " + dir + "/tokens.json has 5 tokens");
}

TEST(SenseVoiceContract, ParaformerIsNotSenseVoice) {
  OrtRuntime rt;
  // A Paraformer dir (no tokens.json in this hand-built one) fails on its first missing piece.
  EXPECT_EQ(error_of([&] { SenseVoiceModel::load(good("offline"), "false", rt); }),
            good("offline") + ": missing tokens.json (vocabulary of the SenseVoiceSmall model)");
  auto s = rt.open(good("offline") + "/model.onnx");
  const std::string e = error_of([&] { check_contract(*s, sensevoice_contract(), "p.onnx"); });
  EXPECT_EQ(e, "p.onnx: has 2 inputs, expected 4 for a sensevoice model (missing inputs 2 'language')");
}

TEST(SenseVoiceModelRun, ReturnsLogitsOfEveryRow) {
  OrtRuntime rt;
  auto m = SenseVoiceModel::load(good("SenseVoiceSmall"), "false", rt);
  std::vector<float> feats(5 * 560, 0.25f);
  OfflineOutput out;
  out.us_alphas = {1.0f};
  m->run(feats.data(), 5, sensevoice_language_id("zh"), sensevoice_textnorm_id(false), out);
  EXPECT_EQ(out.num_rows, 5);  // the hand-built graph has T rows (the real export T + 4)
  EXPECT_EQ(out.vocab, 6);
  EXPECT_EQ(out.logits.size(), 30u);
  EXPECT_TRUE(out.us_alphas.empty());
  EXPECT_THAT(error_of([&] { m->run(feats.data(), 0, 0, 14, out); }), HasSubstr("run with 0 frames"));
}

TEST(SenseVoiceIds, LanguageAndTextnormAsFunAsr) {
  EXPECT_EQ(sensevoice_language_id("auto"), 0);
  EXPECT_EQ(sensevoice_language_id("zh"), 3);
  EXPECT_EQ(sensevoice_language_id("en"), 4);
  EXPECT_EQ(sensevoice_language_id("yue"), 7);
  EXPECT_EQ(sensevoice_language_id("ja"), 11);
  EXPECT_EQ(sensevoice_language_id("ko"), 12);
  EXPECT_EQ(sensevoice_language_id("nospeech"), 13);
  EXPECT_EQ(sensevoice_language_id("fr"), 0);  // unknown -> auto
  EXPECT_EQ(sensevoice_language_id("ZH"), 0);  // case-sensitive lookup
  EXPECT_EQ(sensevoice_language_id(""), 0);
  EXPECT_EQ(sensevoice_textnorm_id(true), 14);
  EXPECT_EQ(sensevoice_textnorm_id(false), 15);
}

TEST(SenseVoiceIds, DirectoryDetectionAsFunAsr) {
  EXPECT_TRUE(is_sensevoice_dir("/models/SenseVoiceSmall"));
  EXPECT_TRUE(is_sensevoice_dir("/models/iic/SenseVoiceSmall-onnx"));
  EXPECT_TRUE(is_sensevoice_dir("/SenseVoiceSmall/x/paraformer"));  // anywhere in the path, as FunASR
  EXPECT_FALSE(is_sensevoice_dir("/models/sensevoicesmall"));       // case-sensitive
  EXPECT_FALSE(is_sensevoice_dir("/models/SenseVoice"));
  EXPECT_FALSE(is_sensevoice_dir("/models/paraformer-large"));
}

// Rows of one-hot logits for the given argmax ids.
std::vector<float> rows_of(const std::vector<int>& ids, int vocab) {
  std::vector<float> l(ids.size() * static_cast<std::size_t>(vocab), -1.0f);
  for (std::size_t t = 0; t < ids.size(); ++t) l[t * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(ids[t])] = 3.0f;
  return l;
}

TEST(SenseVoiceCtc, BlankRemovedRepeatsCollapsed) {
  const int V = 8;
  const std::vector<int> frames = {5, 5, 0, 5, 3, 3, 0, 0, 4, 0, 4, 4, 7};
  const auto l = rows_of(frames, V);
  std::vector<int> ids = {99};
  sensevoice_ctc_ids(l.data(), static_cast<int>(frames.size()), V, ids);
  EXPECT_EQ(ids, (std::vector<int>{5, 5, 3, 4, 4, 7}));  // a blank between repeats keeps both
  // Only the first `rows` rows are decoded.
  sensevoice_ctc_ids(l.data(), 5, V, ids);
  EXPECT_EQ(ids, (std::vector<int>{5, 5, 3}));
  sensevoice_ctc_ids(l.data(), 0, V, ids);
  EXPECT_TRUE(ids.empty());
}

TEST(SenseVoiceCtc, TiesTakeTheFirstMaximum) {
  const std::vector<float> l = {1.0f, 2.0f, 2.0f, 0.0f,   // -> 1
                                3.0f, 3.0f, 0.0f, 0.0f};  // -> 0 (blank)
  std::vector<int> ids;
  sensevoice_ctc_ids(l.data(), 2, 4, ids);
  EXPECT_EQ(ids, (std::vector<int>{1}));
}

const std::vector<std::string> kTokens = {
    "<unk>", "<s>", "</s>", "\xE4\xBD\xA0" /*你*/, "\xE5\xA5\xBD" /*好*/, "\xE2\x96\x81hello", "\xE2\x96\x81wor", "ld",
    "<|zh|>", "<|en|>", "<|NEUTRAL|>", "<|HAPPY|>", "<|Speech|>", "<|BGM|>", "<|withitn|>", "<|woitn|>",
    "\xE2\x96\x81", "x\xE2\x96\x81y"};

std::string text_of(const std::vector<int>& ids) {
  std::string out = "stale";
  sensevoice_text(ids, kTokens, out);
  return out;
}

TEST(SenseVoiceText, TagsKeptItnTagDroppedFullStopAppended) {
  EXPECT_EQ(text_of({8, 10, 12, 14, 3, 4}), "<|zh|><|NEUTRAL|><|Speech|> \xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82");  // 你好。
  EXPECT_EQ(text_of({8, 10, 12, 15, 3, 4}), "<|zh|><|NEUTRAL|><|Speech|> \xE4\xBD\xA0\xE5\xA5\xBD");
  // Any language but <|zh|> gets "."; emotion and event tags are kept as the model emits them.
  EXPECT_EQ(text_of({9, 11, 13, 14, 3}), "<|en|><|HAPPY|><|BGM|> \xE4\xBD\xA0.");
}

TEST(SenseVoiceText, WordPiecesStartWithASpace) {
  // "▁hello" -> " hello"; "▁wor" + "ld" -> " world": after the separator space the text starts with a space.
  EXPECT_EQ(text_of({9, 10, 12, 15, 5, 6, 7}), "<|en|><|NEUTRAL|><|Speech|>  hello world");
  EXPECT_EQ(text_of({9, 10, 12, 14, 5, 3}), "<|en|><|NEUTRAL|><|Speech|>  hello\xE4\xBD\xA0.");
  // A "▁" elsewhere than at the start is removed where it is (FunASR would drop the first 3
  // bytes and split the UTF-8 sequence): never invalid UTF-8 in a reply.
  EXPECT_EQ(text_of({9, 10, 12, 15, 16, 17}), "<|en|><|NEUTRAL|><|Speech|>   xy");
}

TEST(SenseVoiceText, TagsArePositional) {
  // The first four ids are read as tags whatever they are (FunASR's CTCSearch).
  EXPECT_EQ(text_of({3, 4, 5, 6, 8}), "\xE4\xBD\xA0\xE5\xA5\xBD\xE2\x96\x81hello <|zh|>");
}

TEST(SenseVoiceText, FewerThanFourIds) {
  EXPECT_EQ(text_of({}), " ");
  EXPECT_EQ(text_of({8, 10}), " ");                                  // < 3: no tags at all
  EXPECT_EQ(text_of({8, 10, 12}), "<|zh|><|NEUTRAL|><|Speech|> ");   // no ITN tag: nothing appended
  EXPECT_EQ(text_of({8, 10, 12, 14}), "<|zh|><|NEUTRAL|><|Speech|> \xE3\x80\x82");
}

}  // namespace
}  // namespace paraserve
