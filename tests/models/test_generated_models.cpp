// The generated model sets (models/tiny, models/behav from tools/modelgen): every model
// loads fp32 and quantized, passes its contract, and runs with correctly shaped inputs.
// Skipped when a set has not been generated (scripts/make-models.sh).
#include <gtest/gtest.h>

#include "../models_required.h"

#include <array>
#include <string>
#include <vector>

#include "fixture.h"
#include "models/paraformer_offline.h"
#include "models/paraformer_online.h"
#include "models/punc_model.h"
#include "models/sensevoice.h"
#include "models/vad_model.h"

namespace paraserve {
namespace {

using test::model_set_dir;

class GeneratedSet : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dir(const std::string& sub) {
    std::string d = model_set_dir(GetParam(), sub);
    return d;
  }
};

TEST_P(GeneratedSet, VadLoadsAndRuns) {
  const std::string d = dir("vad");
  if (d.empty()) PARASERVE_MODELS_MISSING("models/" << GetParam() << "/vad not generated");
  OrtRuntime rt;
  for (const char* q : {"false", "true"}) {
    auto m = VadModel::load(d, q, rt);
    std::vector<float> feats(5 * VadModel::kFeatDim, 0.1f), probs;
    std::vector<std::vector<float>> c(4, std::vector<float>(VadModel::kCacheFloats, 0.0f));
    m->run(feats.data(), 5, {c[0].data(), c[1].data(), c[2].data(), c[3].data()}, true, probs);
    EXPECT_EQ(probs.size(), 5u * VadModel::kNumPdfs) << q;
  }
}

TEST_P(GeneratedSet, OnlineLoadsAndRunsWithCaches) {
  const std::string d = dir("online");
  if (d.empty()) PARASERVE_MODELS_MISSING("models/" << GetParam() << "/online not generated");
  OrtRuntime rt;
  for (const char* q : {"false", "true"}) {
    auto m = OnlineParaformerModel::load(d, q, rt);
    const int T = 20, D = m->encoder_dim();
    std::vector<float> feats(static_cast<std::size_t>(T) * OnlineParaformerModel::kFeatDim);
    for (std::size_t i = 0; i < feats.size(); ++i) feats[i] = static_cast<float>((i * 7919) % 101) / 50.0f - 1.0f;
    std::vector<float> enc, alphas, logits;
    m->encode(feats.data(), T, enc, alphas);
    ASSERT_EQ(enc.size(), static_cast<std::size_t>(T) * D);
    ASSERT_EQ(alphas.size(), static_cast<std::size_t>(T));
    // Non-zero caches and embeddings, so that any real cache update shows.
    std::vector<std::vector<float>> caches(static_cast<std::size_t>(m->num_caches()));
    std::vector<float*> ptrs;
    for (std::size_t k = 0; k < caches.size(); ++k) {
      caches[k].resize(static_cast<std::size_t>(m->cache_floats()));
      for (std::size_t i = 0; i < caches[k].size(); ++i) caches[k][i] = static_cast<float>((i + 3 * k) % 13) * 0.1f;
      ptrs.push_back(caches[k].data());
    }
    const int N = 2;
    std::vector<float> embeds(static_cast<std::size_t>(N) * D);
    for (std::size_t i = 0; i < embeds.size(); ++i) embeds[i] = static_cast<float>(i % 5) * 0.3f;
    const auto initial = caches;
    m->decode(enc.data(), T, embeds.data(), N, ptrs, logits);
    EXPECT_EQ(logits.size(), static_cast<std::size_t>(N) * m->vocab_size());
    EXPECT_NE(caches, initial) << "decoder caches not updated (" << q << ")";
    const auto after_one = caches;
    m->decode(enc.data(), T, embeds.data(), N, ptrs, logits);
    EXPECT_NE(caches, after_one) << "decoder caches did not change between calls (" << q << ")";
  }
}

TEST_P(GeneratedSet, OfflineLoadsAndRuns) {
  for (const char* sub : {"offline", "offline-ts"}) {
    const std::string d = dir(sub);
    if (d.empty()) continue;
    OrtRuntime rt;
    for (const char* q : {"false", "true"}) {
      auto m = OfflineParaformerModel::load(d, q, rt);
      EXPECT_EQ(m->has_timestamps(), std::string(sub) == "offline-ts");
      const int T = 30;
      std::vector<float> feats(static_cast<std::size_t>(T) * OfflineParaformerModel::kFeatDim);
      for (std::size_t i = 0; i < feats.size(); ++i) feats[i] = static_cast<float>((i * 31) % 17) / 8.0f - 1.0f;
      OfflineOutput out;
      m->run(feats.data(), T, out);
      EXPECT_EQ(out.logits.size(), static_cast<std::size_t>(out.num_rows) * out.vocab);
      EXPECT_GE(out.token_num, 0);
      EXPECT_LE(out.token_num, out.num_rows);
      if (m->has_timestamps()) {
        EXPECT_EQ(out.us_alphas.size(), static_cast<std::size_t>(3 * T));
        EXPECT_EQ(out.us_cif_peak.size(), static_cast<std::size_t>(3 * T));
      }
    }
  }
}

TEST_P(GeneratedSet, PuncLoadsAndRuns) {
  for (const char* sub : {"punc", "punc-offline"}) {
    const std::string d = dir(sub);
    if (d.empty()) continue;
    OrtRuntime rt;
    for (const char* q : {"false", "true"}) {
      auto m = PuncModel::load(d, q, rt);
      EXPECT_EQ(m->realtime(), std::string(sub) == "punc");
      const int L = 5;
      std::vector<int32_t> ids(L);
      for (int i = 0; i < L; ++i) ids[i] = i % m->vocab().size();
      std::vector<float> mask(L * L, 1.0f), logits;
      m->run(ids.data(), L, mask.data(), logits);
      EXPECT_EQ(logits.size(), static_cast<std::size_t>(L) * m->num_classes());
    }
  }
}

TEST_P(GeneratedSet, SenseVoiceLoadsAndRunsWithFourExtraRows) {
  const std::string d = dir("SenseVoiceSmall");
  if (d.empty()) PARASERVE_MODELS_MISSING("models/" << GetParam() << "/SenseVoiceSmall not generated");
  OrtRuntime rt;
  for (const char* q : {"false", "true"}) {
    auto m = SenseVoiceModel::load(d, q, rt);
    const int T = 30;
    std::vector<float> feats(static_cast<std::size_t>(T) * SenseVoiceModel::kFeatDim);
    for (std::size_t i = 0; i < feats.size(); ++i) feats[i] = static_cast<float>((i * 31) % 17) / 8.0f - 1.0f;
    OfflineOutput out;
    m->run(feats.data(), T, sensevoice_language_id("auto"), sensevoice_textnorm_id(true), out);
    EXPECT_EQ(out.num_rows, T + 4) << q;  // language, emotion, event, textnorm rows first
    EXPECT_EQ(out.vocab, m->vocab().size());
    EXPECT_EQ(out.logits.size(), static_cast<std::size_t>(out.num_rows) * out.vocab);
    // The tag tokens FunASR's text rules look for are in the vocabulary.
    for (const char* tag : {"<|zh|>", "<|en|>", "<|NEUTRAL|>", "<|Speech|>", "<|withitn|>", "<|woitn|>"})
      EXPECT_GE(m->vocab().id(tag), 0) << tag;
  }
}

INSTANTIATE_TEST_SUITE_P(Sets, GeneratedSet, ::testing::Values("tiny", "behav"));

}  // namespace
}  // namespace paraserve
