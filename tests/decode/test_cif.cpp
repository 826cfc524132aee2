// Streaming CIF (FunASR ParaformerOnline::CifSearch). Expected values are worked out by hand
// from paraformer-online.cpp:270-345 (integrate while alpha + acc < 1, fire otherwise).
#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"
#include "decode/cif.h"

namespace paraserve {
namespace {

struct CifRun {
  std::vector<float> fired;
  int n = -1;
};

CifRun cif(const std::vector<float>& hidden, const std::vector<float>& alphas, int left, int cur,
        bool last, CifState& st, float tail = 0.45f) {
  CifRun r;
  cif_search(hidden.data(), alphas.data(), static_cast<int>(alphas.size()), 2, left, cur, last,
             tail, 1.0f, st, r.fired, r.n);
  return r;
}

TEST(Cif, MasksContextAndCarriesState) {
  CifState st;
  st.reset(2);
  // Frames 0 and 3 are context (left = 1, cur = 2): their alphas do not count.
  // t1: acc 0.6, acc row = 0.6*(2,2) = (1.2,1.2)
  // t2: 0.6+0.7 >= 1 -> fire (1.2,1.2) + 0.4*(4,0) = (2.8,1.2); acc 0.3; row 0.3*(4,0)
  CifRun r = cif({1, 0, 2, 2, 4, 0, 9, 9}, {0.9f, 0.6f, 0.7f, 0.8f}, 1, 2, false, st);
  ASSERT_EQ(r.n, 1);
  ASSERT_EQ(r.fired.size(), 2u);
  EXPECT_NEAR(r.fired[0], 2.8f, 1e-5);
  EXPECT_NEAR(r.fired[1], 1.2f, 1e-5);
  EXPECT_NEAR(st.alpha, 0.3f, 1e-6);
  EXPECT_NEAR(st.hidden[0], 4.0f, 1e-5);  // carry = accumulated row / acc
  EXPECT_NEAR(st.hidden[1], 0.0f, 1e-6);

  // Second chunk, last of the segment. carry: acc 0.3, row (1.2,0)
  // t0 0.5: acc 0.8, row (1.2,1.0); t1 0.5: fire (1.2,1.0)+0.2*(2,0) = (1.6,1.0), acc 0.3,
  // row (0.6,0); t2 0.1: acc 0.4, row (0.7,0.1); tail 0.45: 0.85 < 1, no fire.
  CifRun r2 = cif({0, 2, 2, 0, 1, 1}, {0.5f, 0.5f, 0.1f}, 0, 3, true, st);
  ASSERT_EQ(r2.n, 1);
  EXPECT_NEAR(r2.fired[0], 1.6f, 1e-5);
  EXPECT_NEAR(r2.fired[1], 1.0f, 1e-5);
  EXPECT_NEAR(st.alpha, 0.85f, 1e-6);
  EXPECT_NEAR(st.hidden[0], 0.7f / 0.85f, 1e-5);
  EXPECT_NEAR(st.hidden[1], 0.1f / 0.85f, 1e-5);
}

TEST(Cif, TailAlphaFlushesTheLastToken) {
  CifState st;
  st.reset(2);
  // acc 0.4 with row (0.7,0.1)... here: 0.4 then the tail 0.65 -> 1.05 fires the
  // accumulated row unchanged (the tail row is zero); acc 0.05 with a zero row.
  CifRun r = cif({1.75f, 0.25f}, {0.4f}, 0, 1, true, st, 0.65f);
  ASSERT_EQ(r.n, 1);
  EXPECT_NEAR(r.fired[0], 0.7f, 1e-6);
  EXPECT_NEAR(r.fired[1], 0.1f, 1e-6);
  EXPECT_NEAR(st.alpha, 0.05f, 1e-6);
  EXPECT_EQ(st.hidden[0], 0.0f);
  // Not the last chunk: no tail, no fire.
  st.reset(2);
  CifRun r2 = cif({1.75f, 0.25f}, {0.4f}, 0, 1, false, st, 0.65f);
  EXPECT_EQ(r2.n, 0);
  EXPECT_TRUE(r2.fired.empty());
}

TEST(Cif, FloatOrderDecidesTheFire) {
  // 0.01 + 0.78 + 0.21 is 1 in decimals, but FunASR's float accumulation gives
  // 0.99999994 < 1, so nothing fires in this chunk.
  CifState st;
  st.reset(2);
  CifRun r = cif({1, 1, 1, 1, 1, 1}, {0.01f, 0.78f, 0.21f}, 0, 3, false, st);
  EXPECT_EQ(r.n, 0);
  EXPECT_LT(st.alpha, 1.0f);
  EXPECT_GT(st.alpha, 0.9999f);
  // The carried 0.99999994 fires as soon as anything is added.
  CifRun r2 = cif({3, 3}, {0.25f}, 0, 1, false, st);
  ASSERT_EQ(r2.n, 1);
  EXPECT_NEAR(r2.fired[0], 1.0f, 1e-5);
}

TEST(Cif, LargeAlphaFiresOncePerFrameAndTheCarryFiresNext) {
  CifState st;
  st.reset(2);
  // 2.5 >= 1: fire 1*(1,1); acc 1.5 stays above the threshold (one fire per frame).
  CifRun r = cif({1, 1}, {2.5f}, 0, 1, false, st);
  ASSERT_EQ(r.n, 1);
  EXPECT_FLOAT_EQ(r.fired[0], 1.0f);
  EXPECT_FLOAT_EQ(st.alpha, 1.5f);
  EXPECT_FLOAT_EQ(st.hidden[0], 1.0f);  // (1.5*(1,1)) / 1.5
  // Next call: the carried row itself fires first, then acc = 0.5.
  CifRun r2 = cif({0, 0}, {0.0f}, 0, 1, false, st);
  ASSERT_EQ(r2.n, 1);
  EXPECT_FLOAT_EQ(r2.fired[0], 1.0f);
  EXPECT_FLOAT_EQ(st.alpha, 0.5f);
}

TEST(Cif, ZeroAccumulatorCarriesTheRawRow) {
  CifState st;
  st.reset(2);
  // 0.5*(2,0) + (-0.5)*(0,2) = (1,-1) with acc exactly 0: carried as is (no division).
  CifRun r = cif({2, 0, 0, 2}, {0.5f, -0.5f}, 0, 2, false, st);
  EXPECT_EQ(r.n, 0);
  EXPECT_EQ(st.alpha, 0.0f);
  EXPECT_FLOAT_EQ(st.hidden[0], 1.0f);
  EXPECT_FLOAT_EQ(st.hidden[1], -1.0f);
}

TEST(Cif, SeveralFiresAppendToOutput) {
  CifState st;
  st.reset(2);
  CifRun r;
  r.fired = {7, 7};  // existing content is kept (append)
  cif_search(std::vector<float>{1, 0, 0, 1, 1, 1}.data(), std::vector<float>{1.0f, 1.0f, 1.0f}.data(),
             3, 2, 0, 3, false, 0.45f, 1.0f, st, r.fired, r.n);
  ASSERT_EQ(r.n, 3);
  EXPECT_EQ(r.fired, (std::vector<float>{7, 7, 1, 0, 0, 1, 1, 1}));
  EXPECT_EQ(st.alpha, 0.0f);
}

TEST(Cif, EmptyChunkAndContextBeyondT) {
  CifState st;
  st.reset(2);
  CifRun r = cif({}, {}, 5, 10, false, st);
  EXPECT_EQ(r.n, 0);
  // A left context longer than the chunk zeroes everything (FunASR would write out of range).
  CifRun r2 = cif({1, 1, 1, 1}, {0.9f, 0.9f}, 5, 10, false, st);
  EXPECT_EQ(r2.n, 0);
  EXPECT_EQ(st.alpha, 0.0f);
}

TEST(Cif, StateDimMismatchThrows) {
  CifState st;  // never reset
  CifRun r;
  EXPECT_THROW(cif_search(nullptr, nullptr, 0, 2, 0, 0, false, 0.45f, 1.0f, st, r.fired, r.n),
               Error);
}

}  // namespace
}  // namespace paraserve
