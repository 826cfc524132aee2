// Batched streaming Paraformer calls (OnlineParaformerModel::encode_batch / decode_batch):
// every request of a batch gets the same outputs, and the same updated decoder caches, as a
// single-request call on its own inputs, for batches of 1..16 requests of different T and N.
// Runs on the generated tiny and behav model sets (fp32); int8 is checked separately
// (per-tensor activation quantization makes batched int8 close, not equal).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "fixture.h"
#include "models/paraformer_online.h"
#include "../models_required.h"

namespace paraserve {
namespace {

using Model = OnlineParaformerModel;

// fp32 tolerance: |batched - single| <= kAbsTol + kRelTol * |single|. Requests stacked at
// equal length came out bitwise equal (stacking changes only the GEMMs' row count, not the
// per-element summation order). A decoder request whose enc is padded to a longer T in its
// N group differs by rounding only (max 1.3e-6 abs on the tiny set): the masked
// cross-attention softmax adds exact zeros but reduces over a different length. A swapped
// row or a wrong cache column differs by 0.1..10.
constexpr float kAbsTol = 2e-5f;
constexpr float kRelTol = 1e-5f;

std::vector<float> randn(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Largest |a-b| beyond tolerance, as a message ("" when within).
std::string mismatch(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  if (got.size() != want.size()) return what + ": size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float d = std::fabs(got[i] - want[i]);
    if (!(d <= kAbsTol + kRelTol * std::fabs(want[i])))
      return what + ": element " + std::to_string(i) + " is " + std::to_string(got[i]) + ", single-request " +
             std::to_string(want[i]);
  }
  return {};
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// One request's inputs, and its outputs from the single and the batched path.
struct Req {
  int T = 0, N = 0;
  std::vector<float> feats, embeds;
  std::vector<std::vector<float>> caches0;  // decoder caches before the call
  // single-request results
  std::vector<float> enc1, alphas1, logits1;
  std::vector<std::vector<float>> caches1;
  // batched results
  std::vector<float> enc2, alphas2, logits2;
  std::vector<std::vector<float>> caches2;
  std::vector<float*> cache_ptrs2;
};

Req make_req(const Model& m, int T, int N, unsigned seed) {
  Req r;
  r.T = T;
  r.N = N;
  // Feature scale like the pipeline's (CMVN output times sqrt(512) plus positions).
  r.feats = randn(static_cast<std::size_t>(T) * Model::kFeatDim, seed, 4.0f);
  r.embeds = randn(static_cast<std::size_t>(N) * m.encoder_dim(), seed + 1);
  for (int i = 0; i < m.num_caches(); ++i)
    r.caches0.push_back(randn(static_cast<std::size_t>(m.cache_floats()), seed * 131u + static_cast<unsigned>(i)));
  return r;
}

// Single-request reference through the unbatched API.
void run_single(const Model& m, Req& r) {
  m.encode(r.feats.data(), r.T, r.enc1, r.alphas1);
  r.caches1 = r.caches0;
  std::vector<float*> ptrs;
  for (auto& c : r.caches1) ptrs.push_back(c.data());
  m.decode(r.enc1.data(), r.T, r.embeds.data(), r.N, ptrs, r.logits1);
}

// All requests through encode_batch, then decode_batch on the batched encoder output.
void run_batched(const Model& m, std::vector<Req>& rs, Model::BatchScratch& s) {
  std::vector<Model::EncodeRequest> er;
  for (auto& r : rs) {
    r.enc2.assign(static_cast<std::size_t>(r.T) * m.encoder_dim(), -7.0f);
    r.alphas2.assign(static_cast<std::size_t>(r.T), -7.0f);
    er.push_back({r.feats.data(), r.T, r.enc2.data(), r.alphas2.data()});
  }
  m.encode_batch(er, s);
  std::vector<Model::DecodeRequest> dr;
  for (auto& r : rs) {
    r.caches2 = r.caches0;
    r.cache_ptrs2.clear();
    for (auto& c : r.caches2) r.cache_ptrs2.push_back(c.data());
    r.logits2.assign(static_cast<std::size_t>(r.N) * m.vocab_size(), -7.0f);
    dr.push_back({r.enc2.data(), r.T, r.embeds.data(), r.N, r.cache_ptrs2.data(), r.logits2.data()});
  }
  m.decode_batch(dr, s);
}

void expect_same(const Req& r, std::size_t idx) {
  const std::string at = "request " + std::to_string(idx) + " (T=" + std::to_string(r.T) + ", N=" + std::to_string(r.N) + ") ";
  EXPECT_EQ(mismatch(r.enc2, r.enc1, at + "enc"), "");
  EXPECT_EQ(mismatch(r.alphas2, r.alphas1, at + "alphas"), "");
  EXPECT_EQ(mismatch(r.logits2, r.logits1, at + "logits"), "");
  ASSERT_EQ(r.caches2.size(), r.caches1.size());
  for (std::size_t i = 0; i < r.caches1.size(); ++i)
    EXPECT_EQ(mismatch(r.caches2[i], r.caches1[i], at + "cache " + std::to_string(i)), "");
}

// Frame and token counts for request i: T repeats 20 (the 600 ms chunk, a+b+c) so
// equal-T groups form, with 1, 7, 33 and 64 (the scratch limit) mixed in; N likewise
// repeats 3 with 1 and 12 mixed in, and an N group spans different T (padded T).
constexpr int kT[] = {20, 20, 7, 20, 1, 20, 33, 20, 12, 1, 20, 64, 20, 5, 20, 20};
constexpr int kN[] = {3, 3, 1, 5, 3, 1, 12, 3, 2, 1, 3, 4, 5, 1, 3, 3};

class OnlineBatch : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::string dir = test::model_set_dir(GetParam(), "online");
    if (dir.empty()) PARASERVE_MODELS_MISSING(std::string("models/") + GetParam() + "/online not generated");
    model_ = Model::load(dir, "false", rt_);
  }
  OrtRuntime rt_;
  std::shared_ptr<const Model> model_;
};

TEST_P(OnlineBatch, ExportsHaveADynamicBatchAxis) { EXPECT_TRUE(model_->batchable()); }

TEST_P(OnlineBatch, EveryRequestMatchesItsSingleCall) {
  const Model& m = *model_;
  Model::BatchScratch scratch(m, {16, 64, 12});
  for (int B : {1, 2, 3, 4, 8, 16}) {
    SCOPED_TRACE("B=" + std::to_string(B));
    std::vector<Req> rs;
    for (int i = 0; i < B; ++i) rs.push_back(make_req(m, kT[i], kN[i], static_cast<unsigned>(1000 * B + 10 * i)));
    for (auto& r : rs) run_single(m, r);
    run_batched(m, rs, scratch);
    for (std::size_t i = 0; i < rs.size(); ++i) expect_same(rs[i], i);
    if (B >= 2) {
      // Distinct requests give distinct outputs, so a swapped or shared row cannot pass.
      EXPECT_GT(max_abs_diff(rs[0].logits1, rs[1].logits1), 100 * kAbsTol);
      EXPECT_GT(max_abs_diff(rs[0].caches1[0], rs[1].caches1[0]), 100 * kAbsTol);
    }
  }
}

TEST_P(OnlineBatch, TwoChunksCachesCarryOver) {
  // The batched decoder's updated caches feed the next batched call like the single path's.
  const Model& m = *model_;
  Model::BatchScratch scratch(m, {8, 64, 12});
  std::vector<Req> rs;
  for (int i = 0; i < 5; ++i) rs.push_back(make_req(m, kT[i], kN[i], static_cast<unsigned>(77 + i)));
  for (auto& r : rs) run_single(m, r);
  run_batched(m, rs, scratch);
  for (auto& r : rs) {  // second chunk: start from each path's own updated caches
    r.caches0 = r.caches1;
    r.feats = randn(r.feats.size(), static_cast<unsigned>(r.T * 17 + r.N), 4.0f);
  }
  std::vector<std::vector<std::vector<float>>> batched_caches;
  for (auto& r : rs) batched_caches.push_back(r.caches2);
  for (auto& r : rs) run_single(m, r);
  for (std::size_t i = 0; i < rs.size(); ++i) rs[i].caches0 = batched_caches[i];
  run_batched(m, rs, scratch);
  for (std::size_t i = 0; i < rs.size(); ++i) expect_same(rs[i], i);
}

TEST_P(OnlineBatch, OneRowExtremesAndOrderIndependence) {
  const Model& m = *model_;
  Model::BatchScratch scratch(m, {8, 64, 12});
  // All T=1 and N=1 (one stacked Run each), then one T=64/N=12 request among T=1 ones.
  for (const bool with_long : {false, true}) {
    std::vector<Req> rs;
    for (int i = 0; i < 6; ++i) {
      const bool big = with_long && i == 2;
      rs.push_back(make_req(m, big ? 64 : 1, big ? 12 : 1, static_cast<unsigned>(500 + i)));
    }
    for (auto& r : rs) run_single(m, r);
    run_batched(m, rs, scratch);
    for (std::size_t i = 0; i < rs.size(); ++i) expect_same(rs[i], i);
    // Reversed order: each request still gets its own rows.
    std::reverse(rs.begin(), rs.end());
    run_batched(m, rs, scratch);
    for (std::size_t i = 0; i < rs.size(); ++i) expect_same(rs[i], i);
  }
}

TEST_P(OnlineBatch, LimitsAreEnforced) {
  const Model& m = *model_;
  Model::BatchScratch scratch(m, {2, 20, 4});
  std::vector<float> feats(21 * Model::kFeatDim), enc(21 * 512), alphas(21);
  std::vector<Model::EncodeRequest> three(3, {feats.data(), 20, enc.data(), alphas.data()});
  EXPECT_NE(test::error_of([&] { m.encode_batch(three, scratch); }).find("3 requests, limit 2"), std::string::npos);
  Model::EncodeRequest too_long{feats.data(), 21, enc.data(), alphas.data()};
  EXPECT_NE(test::error_of([&] { m.encode_batch({&too_long, 1}, scratch); }).find("T=21"), std::string::npos);
  Model::EncodeRequest empty{feats.data(), 0, enc.data(), alphas.data()};
  EXPECT_THROW(m.encode_batch({&empty, 1}, scratch), Error);
  std::vector<std::vector<float>> caches(static_cast<std::size_t>(m.num_caches()), std::vector<float>(static_cast<std::size_t>(m.cache_floats())));
  std::vector<float*> cp;
  for (auto& c : caches) cp.push_back(c.data());
  std::vector<float> emb(5 * 512), logits(5 * static_cast<std::size_t>(m.vocab_size()));
  Model::DecodeRequest no_tokens{enc.data(), 20, emb.data(), 0, cp.data(), logits.data()};
  EXPECT_NE(test::error_of([&] { m.decode_batch({&no_tokens, 1}, scratch); }).find("N=0"), std::string::npos);
  Model::DecodeRequest many_tokens{enc.data(), 20, emb.data(), 5, cp.data(), logits.data()};
  EXPECT_THROW(m.decode_batch({&many_tokens, 1}, scratch), Error);
  EXPECT_THROW(Model::BatchScratch(m, {Model::kMaxBatch + 1, 20, 4}), Error);
  EXPECT_THROW(Model::BatchScratch(m, {4, 0, 4}), Error);
  // An empty batch is a no-op.
  EXPECT_NO_THROW(m.encode_batch({}, scratch));
  EXPECT_NO_THROW(m.decode_batch({}, scratch));
}

TEST_P(OnlineBatch, ThreadsWithOwnScratchShareTheModel) {
  // The model is shared and const; each thread has its own BatchScratch and requests.
  const Model& m = *model_;
  constexpr int kThreads = 3;
  std::vector<std::vector<Req>> work(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 6; ++i)
      work[static_cast<std::size_t>(t)].push_back(make_req(m, kT[i + t], kN[i + t], static_cast<unsigned>(900 + 10 * t + i)));
    for (auto& r : work[static_cast<std::size_t>(t)]) run_single(m, r);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&m, &w = work[static_cast<std::size_t>(t)]] {
      Model::BatchScratch scratch(m, {8, 64, 12});
      for (int rep = 0; rep < 3; ++rep) run_batched(m, w, scratch);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t)
    for (std::size_t i = 0; i < work[static_cast<std::size_t>(t)].size(); ++i) expect_same(work[static_cast<std::size_t>(t)][i], i);
}

INSTANTIATE_TEST_SUITE_P(Sets, OnlineBatch, ::testing::Values("tiny", "behav"));

// int8 exports quantize each MatMul's activations with one scale for the whole tensor
// (DynamicQuantizeLinear), i.e. over every request in the batch: batched int8 results are
// close to the single-request ones but not equal. B=1 through the batched API is the same
// Run as the single call, so it is exact.
TEST(OnlineBatchInt8, SingleExactStackedCloseNotEqual) {
  const std::string dir = test::model_set_dir("tiny", "online");
  if (dir.empty()) PARASERVE_MODELS_MISSING("models/tiny/online not generated");
  OrtRuntime rt;
  auto mp = Model::load(dir, "true", rt);
  const Model& m = *mp;
  Model::BatchScratch scratch(m, {4, 64, 12});
  std::vector<Req> one{make_req(m, 20, 3, 9)};
  run_single(m, one[0]);
  run_batched(m, one, scratch);
  EXPECT_EQ(one[0].enc2, one[0].enc1);
  EXPECT_EQ(one[0].logits2, one[0].logits1);
  EXPECT_EQ(one[0].caches2, one[0].caches1);
  // Four requests, same T and N, different input ranges (one loud): one shared scale. On the
  // tiny set the quiet requests' enc moves by about 2 % of its range (0.05 of 2.7).
  std::vector<Req> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(make_req(m, 20, 3, static_cast<unsigned>(40 + i)));
  for (auto& x : rs[3].feats) x *= 8.0f;
  for (auto& r : rs) run_single(m, r);
  run_batched(m, rs, scratch);
  float enc_diff = 0, enc_scale = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    enc_diff = std::max(enc_diff, max_abs_diff(rs[i].enc2, rs[i].enc1));
    for (float v : rs[i].enc1) enc_scale = std::max(enc_scale, std::fabs(v));
  }
  EXPECT_GT(enc_diff, 100 * kAbsTol) << "batched int8 unexpectedly equal: per-request quantization?";
  EXPECT_LT(enc_diff, 0.1f * enc_scale) << "batched int8 far from single: rows mixed up?";
}

// An export whose batch dim is fixed at 1 (the hand-built contract fixture) still takes
// one request at a time through the batched API, and refuses a stack with a clear error.
TEST(OnlineBatchFixed, FixedBatchExportRefusesStacking) {
  OrtRuntime rt;
  auto mp = Model::load(test::good("online"), "false", rt);
  const Model& m = *mp;
  EXPECT_FALSE(m.batchable());
  Model::BatchScratch scratch(m, {4, 20, 4});
  Req a = make_req(m, 6, 2, 1), b = make_req(m, 6, 2, 2);
  run_single(m, a);
  std::vector<Req> one{a};
  run_batched(m, one, scratch);
  expect_same(one[0], 0);
  std::vector<Model::EncodeRequest> two{{a.feats.data(), 6, a.enc2.data(), a.alphas2.data()},
                                        {b.feats.data(), 6, a.enc2.data(), a.alphas2.data()}};
  EXPECT_NE(test::error_of([&] { m.encode_batch(two, scratch); }).find("fixed batch dimension; batch of 2 refused"),
            std::string::npos);
}

}  // namespace
}  // namespace paraserve
