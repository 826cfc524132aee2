// Contract checks against hand-built models: good ones load, broken ones give one line
// naming the file and the first mismatch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "models/contract.h"
#include "models/paraformer_offline.h"
#include "models/paraformer_online.h"
#include "models/punc_model.h"
#include "models/vad_model.h"
#include "fixture.h"

namespace paraserve {
namespace {

using test::error_of;

using ::testing::HasSubstr;
using test::bad;
using test::good;

TEST(Contract, GoodModelsLoadBothFlags) {
  OrtRuntime rt;
  for (const char* q : {"false", "true"}) {
    auto vad = VadModel::load(good("vad"), q, rt);
    EXPECT_EQ(vad->info().kind, "vad");
    EXPECT_EQ(vad->info().quantized, std::string(q) == "true");
    EXPECT_EQ(vad->config().max_single_segment_time, 60000);
    auto on = OnlineParaformerModel::load(good("online"), q, rt);
    EXPECT_EQ(on->num_caches(), 2);
    EXPECT_EQ(on->encoder_dim(), 8);
    EXPECT_EQ(on->vocab_size(), 6);
    EXPECT_THAT(on->decoder_info().path, HasSubstr(std::string(q) == "true" ? "decoder_quant.onnx" : "decoder.onnx"));
    EXPECT_FALSE(OfflineParaformerModel::load(good("offline"), q, rt)->has_timestamps());
    EXPECT_TRUE(OfflineParaformerModel::load(good("offline-ts"), q, rt)->has_timestamps());
    EXPECT_TRUE(PuncModel::load(good("punc"), q, rt)->realtime());
    EXPECT_FALSE(PuncModel::load(good("punc-offline"), q, rt)->realtime());
  }
}

TEST(Contract, RenamedInput) {
  OrtRuntime rt;
  const std::string e = error_of([&] { VadModel::load(bad("vad-renamed"), "false", rt); });
  EXPECT_EQ(e, bad("vad-renamed") + "/model.onnx: input 2 is 'cache1', expected 'in_cache1'");
}

TEST(Contract, WrongDtype) {
  OrtRuntime rt;
  const std::string e = error_of([&] { OnlineParaformerModel::load(bad("online-int64-len"), "false", rt); });
  EXPECT_EQ(e, bad("online-int64-len") + "/decoder.onnx: input 3 is 'acoustic_embeds_len' int64, expected int32");
}

TEST(Contract, MissingCacheCountFromConfig) {
  OrtRuntime rt;
  const std::string e = error_of([&] { OnlineParaformerModel::load(bad("online-missing-cache"), "true", rt); });
  EXPECT_THAT(e, HasSubstr(bad("online-missing-cache") + "/decoder_quant.onnx: has 5 inputs, expected 6"));
  EXPECT_THAT(e, HasSubstr("in_cache_1"));
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(Contract, WrongKindOfModelInDir) {
  OrtRuntime rt;
  // A punctuation dir handed to the VAD loader: missing am.mvn first.
  EXPECT_THAT(error_of([&] { VadModel::load(good("punc"), "false", rt); }), HasSubstr("missing am.mvn"));
  // An offline model checked against the VAD contract.
  auto s = rt.open(good("offline") + "/model.onnx");
  EXPECT_THAT(error_of([&] { check_contract(*s, vad_contract(), "x.onnx"); }),
              HasSubstr("x.onnx: input 0 'speech' has shape [1,?,560], expected [1,?,400] (dim 2)"));
}

TEST(Contract, DimsFromConfig) {
  OrtRuntime rt;
  auto s = rt.open(good("online") + "/decoder.onnx");
  OnlineAsrConfig cfg;
  cfg.encoder_size = 8;
  cfg.fsmn_layers = 2;
  cfg.fsmn_lorder = 2;
  EXPECT_NO_THROW(check_contract(*s, online_decoder_contract(cfg, 6), "d.onnx"));
  EXPECT_THAT(error_of([&] { check_contract(*s, online_decoder_contract(cfg, 7), "d.onnx"); }),
              HasSubstr("output 0 'logits' has shape [1,?,6], expected [1,?,7]"));
  cfg.fsmn_lorder = 3;
  EXPECT_THAT(error_of([&] { check_contract(*s, online_decoder_contract(cfg), "d.onnx"); }),
              HasSubstr("input 4 'in_cache_0' has shape [1,8,2], expected [1,8,3] (dim 2)"));
}

TEST(Contract, ClassifyOffline) {
  ModelContract a;
  a.inputs.resize(2);
  a.outputs.resize(2);
  EXPECT_EQ(classify_offline(a), "offline");
  a.outputs.resize(4);
  EXPECT_EQ(classify_offline(a), "offline-timestamp");
  a.inputs.resize(3);
  EXPECT_EQ(classify_offline(a), "offline-seaco");
  a.outputs.resize(2);
  EXPECT_EQ(classify_offline(a), "offline-contextual");
  a.inputs.resize(5);
  EXPECT_EQ(classify_offline(a), "");
}

TEST(Contract, NotAnOnnxFile) {
  OrtRuntime rt;
  const std::string e = error_of([&] { rt.open(good("vad") + "/am.mvn"); });
  EXPECT_THAT(e, HasSubstr(good("vad") + "/am.mvn: cannot load ONNX model"));
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

// Tensor names come from the model file: a control character in one must not split the
// one-line error (found by the onnx_contract fuzz target; tests/fuzz/onnx_contract/regressions).
TEST(Contract, ControlCharactersInNamesStayOnOneLine) {
  ModelContract actual{"actual", {}, {}};
  actual.inputs.push_back({"spe\nech", ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, {1, -1, 400}});
  const std::string m = contract_mismatch(actual, vad_contract());
  EXPECT_EQ(m, "input 0 is 'spe\\x0aech', expected 'speech'");
  EXPECT_EQ(describe_tensor(actual.inputs[0]), "spe\\x0aech float32 [1,?,400]");
  actual.inputs[0].name = "speech";
  for (int i = 0; i < kVadCacheCount; ++i)
    actual.inputs.push_back({"in_cache" + std::to_string(i), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, {1, 128, 19, 1}});
  actual.inputs.push_back({"extra\r\x7f", ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, {1}});
  EXPECT_THAT(contract_mismatch(actual, vad_contract()), HasSubstr("(extra inputs 5 'extra\\x0d\\x7f')"));
}

}  // namespace
}  // namespace paraserve
