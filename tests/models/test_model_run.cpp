// Running the models: output shapes, cache updates, and concurrent Run on shared sessions.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "common/error.h"
#include "fixture.h"
#include "models/paraformer_offline.h"
#include "models/paraformer_online.h"
#include "models/punc_model.h"
#include "models/vad_model.h"

namespace paraserve {
namespace {

using test::good;

std::vector<float> random_feats(int T, int dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(T) * dim);
  for (auto& x : v) x = nd(rng);
  return v;
}

TEST(VadRun, ShapesAndCacheUpdateFlag) {
  OrtRuntime rt;
  auto m = VadModel::load(good("vad"), "false", rt);
  const int T = 7;
  auto feats = random_feats(T, VadModel::kFeatDim, 1);
  std::vector<std::vector<float>> caches(4, std::vector<float>(VadModel::kCacheFloats, 0.0f));
  std::array<float*, 4> cp{caches[0].data(), caches[1].data(), caches[2].data(), caches[3].data()};
  std::vector<float> probs;
  m->run(feats.data(), T, cp, /*update_caches=*/false, probs);
  ASSERT_EQ(probs.size(), static_cast<std::size_t>(T) * VadModel::kNumPdfs);
  for (int t = 0; t < T; ++t) {  // softmax rows
    double s = 0;
    for (int k = 0; k < VadModel::kNumPdfs; ++k) s += probs[t * VadModel::kNumPdfs + k];
    EXPECT_NEAR(s, 1.0, 1e-4);
  }
  for (const auto& c : caches) EXPECT_EQ(c[0], 0.0f);  // not written back
  const auto probs_before = probs;
  m->run(feats.data(), T, cp, /*update_caches=*/true, probs);
  EXPECT_EQ(probs, probs_before);
  ASSERT_EQ(probs.size(), probs_before.size());
  for (int i = 0; i < 4; ++i) EXPECT_NE(caches[i][5], 0.0f) << i;
  // Distinct per cache index: each cache is bound to its own output (in order).
  EXPECT_NEAR(caches[3][0] - caches[0][0], 3.0f, 1e-5);
  const float c0 = caches[0][0];
  m->run(feats.data(), T, cp, true, probs);
  EXPECT_NE(caches[0][0], c0);  // caches keep evolving
  EXPECT_THROW(m->run(feats.data(), 0, cp, true, probs), Error);
}

struct OnlineState {
  std::vector<std::vector<float>> caches;
  std::vector<float*> ptrs;
  explicit OnlineState(const OnlineParaformerModel& m)
      : caches(static_cast<std::size_t>(m.num_caches()), std::vector<float>(static_cast<std::size_t>(m.cache_floats()))) {
    for (auto& c : caches) ptrs.push_back(c.data());
  }
};

TEST(OnlineRun, EncodeDecodeShapesAndCaches) {
  OrtRuntime rt;
  auto m = OnlineParaformerModel::load(good("online"), "false", rt);
  const int T = 20, N = 3, D = m->encoder_dim();
  auto feats = random_feats(T, OnlineParaformerModel::kFeatDim, 2);
  std::vector<float> enc, alphas, logits;
  m->encode(feats.data(), T, enc, alphas);
  ASSERT_EQ(enc.size(), static_cast<std::size_t>(T * D));
  ASSERT_EQ(alphas.size(), static_cast<std::size_t>(T));
  for (float a : alphas) EXPECT_TRUE(a > 0.0f && a < 1.0f);
  auto embeds = random_feats(N, D, 3);
  OnlineState st(*m);
  m->decode(enc.data(), T, embeds.data(), N, st.ptrs, logits);
  ASSERT_EQ(logits.size(), static_cast<std::size_t>(N * m->vocab_size()));
  const auto first_logits = logits;
  const auto first_caches = st.caches;
  for (const auto& c : st.caches) EXPECT_NE(c[0], 0.0f);
  // Same inputs again: caches changed, so do the logits (the test decoder reads its caches).
  m->decode(enc.data(), T, embeds.data(), N, st.ptrs, logits);
  EXPECT_NE(st.caches[0], first_caches[0]);
  EXPECT_NE(st.caches[1], first_caches[1]);
  EXPECT_NE(logits, first_logits);
  // Wrong cache count is refused.
  std::vector<float*> one{st.ptrs[0]};
  EXPECT_THROW(m->decode(enc.data(), T, embeds.data(), N, one, logits), Error);
}

TEST(OfflineRun, PlainAndTimestampAndInt64TokenNum) {
  OrtRuntime rt;
  const int T = 9;
  auto feats = random_feats(T, OfflineParaformerModel::kFeatDim, 4);
  OfflineOutput out;
  for (const char* dir : {"offline", "offline-int64"}) {
    auto m = OfflineParaformerModel::load(good(dir), "false", rt);
    m->run(feats.data(), T, out);
    EXPECT_EQ(out.num_rows, T);
    EXPECT_EQ(out.vocab, 6);
    EXPECT_EQ(out.token_num, T - 1) << dir;  // the test graph emits speech_lengths - 1
    EXPECT_EQ(out.logits.size(), static_cast<std::size_t>(T * 6));
    EXPECT_TRUE(out.us_alphas.empty());
  }
  auto ts = OfflineParaformerModel::load(good("offline-ts"), "true", rt);
  ts->run(feats.data(), T, out);
  EXPECT_EQ(out.token_num, T - 1);
  EXPECT_EQ(out.us_alphas.size(), static_cast<std::size_t>(3 * T));
  ASSERT_EQ(out.us_cif_peak.size(), static_cast<std::size_t>(3 * T));
  EXPECT_FLOAT_EQ(out.us_cif_peak[4], -out.us_alphas[4]);
}

TEST(PuncRun, RealtimeUsesMaskOfflineIgnoresIt) {
  OrtRuntime rt;
  auto rt_model = PuncModel::load(good("punc"), "false", rt);
  auto off_model = PuncModel::load(good("punc-offline"), "false", rt);
  EXPECT_EQ(rt_model->num_classes(), 6);
  EXPECT_EQ(rt_model->punc_list()[3], "。");
  const int L = 4;
  std::vector<int32_t> ids{3, 4, 5, 1};
  std::vector<float> ones(L * L, 1.0f), masked(L * L, 1.0f);
  masked[0 * L + 3] = 0.0f;  // row 0 cannot see word 3
  std::vector<float> a, b, c;
  rt_model->run(ids.data(), L, ones.data(), a);
  rt_model->run(ids.data(), L, masked.data(), b);
  off_model->run(ids.data(), L, nullptr, c);
  ASSERT_EQ(a.size(), static_cast<std::size_t>(L * 6));
  ASSERT_EQ(c.size(), a.size());
  // Row 0 changes by 2 * 0.25 (mask fed as both vad_masks and sub_masks); other rows equal.
  EXPECT_NEAR(a[0] - b[0], 0.5f, 1e-5);
  EXPECT_FLOAT_EQ(a[6], b[6]);
  // The offline model ignores masks: logits = the realtime ones minus the all-ones mean (2).
  EXPECT_NEAR(a[7] - c[7], 2.0f, 1e-5);
  EXPECT_THROW(rt_model->run(ids.data(), L, nullptr, a), Error);
}

TEST(Concurrency, FourThreadsMatchSerial) {
  OrtRuntime rt;
  auto m = OnlineParaformerModel::load(good("online"), "false", rt);
  auto off = OfflineParaformerModel::load(good("offline-ts"), "false", rt);
  constexpr int kThreads = 4, kSteps = 12;
  // Each thread streams its own input through encode+decode with its own caches.
  auto stream = [&](int tid, std::vector<float>& result) {
    OnlineState st(*m);
    std::vector<float> enc, alphas, logits;
    OfflineOutput oo;
    result.clear();
    for (int s = 0; s < kSteps; ++s) {
      const int T = 5 + (tid + s) % 7;
      auto feats = random_feats(T, OnlineParaformerModel::kFeatDim, static_cast<unsigned>(100 * tid + s));
      m->encode(feats.data(), T, enc, alphas);
      const int N = 1 + s % 3;
      m->decode(enc.data(), T, enc.data(), N < T ? N : T, st.ptrs, logits);
      off->run(feats.data(), T, oo);
      result.insert(result.end(), logits.begin(), logits.end());
      result.insert(result.end(), alphas.begin(), alphas.end());
      result.insert(result.end(), oo.logits.begin(), oo.logits.end());
      result.insert(result.end(), oo.us_alphas.begin(), oo.us_alphas.end());
    }
    for (const auto& c : st.caches) result.insert(result.end(), c.begin(), c.end());
  };
  std::vector<std::vector<float>> serial(kThreads), parallel(kThreads);
  for (int t = 0; t < kThreads; ++t) stream(t, serial[t]);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { stream(t, parallel[t]); });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_FALSE(serial[t].empty());
    EXPECT_EQ(serial[t], parallel[t]) << "thread " << t;
  }
  EXPECT_NE(serial[0], serial[1]);
}

}  // namespace
}  // namespace paraserve
