#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "fixture_util.h"
#include "frontend/cmvn.h"
#include "frontend/fbank.h"
#include "frontend/lfr.h"

namespace paraserve {
namespace {

using test::fixture_path;
using test::load_fbank_fixture;
using test::load_json;
using test::max_abs_diff;

struct LfrFixture {
  int m, n, dim, num_frames, input_frames;
  std::string am_mvn;
  std::vector<float> lfr, lfr_cmvn;
};

LfrFixture load_lfr(const std::string& tag) {
  const auto j = load_json("lfr_cmvn_" + tag + ".json");
  return {j.at("m"), j.at("n"), j.at("dim"), j.at("num_frames"), j.at("input_frames"), j.at("am_mvn"),
          j.at("lfr").get<std::vector<float>>(), j.at("lfr_cmvn").get<std::vector<float>>()};
}

class LfrCmvnReference : public ::testing::TestWithParam<const char*> {};

// Input: torchaudio fbank of the speech fixture; expected: numpy LFR + CMVN reference.
TEST_P(LfrCmvnReference, OfflineMatchesNumpy) {
  const auto fx = load_lfr(GetParam());
  const auto fb = load_fbank_fixture("speech");
  std::vector<float> out;
  lfr_offline(fb.fbank.data(), fx.input_frames, 80, fx.m, fx.n, out);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(fx.num_frames) * fx.dim);
  EXPECT_EQ(lfr_offline_frames(fx.input_frames, fx.n), fx.num_frames);
  EXPECT_LE(max_abs_diff(out, fx.lfr), 1e-5f);  // a pure copy of the input values

  const Cmvn cmvn = Cmvn::load(fixture_path(fx.am_mvn));
  ASSERT_EQ(cmvn.size(), static_cast<std::size_t>(fx.dim));
  cmvn.check_dim(fx.dim, "test");
  cmvn.apply(out.data(), fx.num_frames, fx.dim);
  const float diff = max_abs_diff(out, fx.lfr_cmvn);
  std::printf("[lfr+cmvn fixture] %s m=%d n=%d frames=%d max|diff|=%.3g\n", GetParam(), fx.m, fx.n, fx.num_frames, diff);
  EXPECT_LE(diff, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LfrCmvnReference, ::testing::Values("asr", "vad"));

// Small hand-checked case: frame k has all values = k.
std::vector<float> ramp_frames(int T, int dim) {
  std::vector<float> f(static_cast<std::size_t>(T) * dim);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < dim; ++d) f[static_cast<std::size_t>(t) * dim + d] = static_cast<float>(t) + 0.01f * d;
  return f;
}

std::vector<int> frame_ids(const std::vector<float>& lfr, int dim) {  // first value of each stacked frame
  std::vector<int> ids;
  for (std::size_t i = 0; i < lfr.size(); i += static_cast<std::size_t>(dim)) ids.push_back(static_cast<int>(lfr[i]));
  return ids;
}

TEST(Lfr, OfflinePaddingRule) {
  const int dim = 2;
  const auto f = ramp_frames(8, dim);
  std::vector<float> out;
  lfr_offline(f.data(), 8, dim, 7, 6, out);
  // Padded: 0 0 0 | 0 1 2 3 4 5 6 7 ; ceil(8/6) = 2 windows; the second is short -> repeat 7.
  EXPECT_EQ(frame_ids(out, dim), (std::vector<int>{0, 0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7}));
  out.clear();
  lfr_offline(f.data(), 0, dim, 7, 6, out);
  EXPECT_TRUE(out.empty());
  out.clear();
  lfr_offline(f.data(), 1, dim, 7, 6, out);
  EXPECT_EQ(frame_ids(out, dim), (std::vector<int>(7, 0)));
  EXPECT_THROW(lfr_offline(f.data(), 8, dim, 0, 6, out), Error);
}

std::vector<float> stream_lfr(const std::vector<float>& frames, int dim, int m, int n, const std::vector<int>& sizes,
                              bool final_empty_call, StreamingLfr* lfr_out = nullptr) {
  StreamingLfr lfr(m, n, dim);
  std::vector<float> out;
  const int T = static_cast<int>(frames.size()) / dim;
  int pos = 0;
  std::size_t k = 0;
  while (pos < T) {
    const int c = std::min(sizes[k++ % sizes.size()], T - pos);
    const bool last = pos + c == T && !final_empty_call;
    lfr.accept(frames.data() + static_cast<std::size_t>(pos) * dim, c, last, out);
    pos += c;
    EXPECT_LT(lfr.cached_frames(), m + n);
  }
  if (final_empty_call) lfr.accept(nullptr, 0, true, out);
  EXPECT_EQ(lfr.cached_frames(), 0);  // finished resets
  if (lfr_out) *lfr_out = lfr;
  return out;
}

TEST(StreamingLfr, EqualsOfflineForAnyChunking) {
  const int dim = 3;
  std::mt19937 rng(5);
  for (const auto& [m, n] : {std::pair{7, 6}, std::pair{5, 1}}) {
    for (int T : {1, 3, 4, 6, 7, 8, 13, 50, 97}) {
      const auto f = ramp_frames(T, dim);
      std::vector<float> offline;
      lfr_offline(f.data(), T, dim, m, n, offline);
      std::vector<int> random_sizes;
      for (int i = 0; i < 40; ++i) random_sizes.push_back(std::uniform_int_distribution<int>(1, 12)(rng));
      for (const auto& sizes : std::vector<std::vector<int>>{{1}, {2}, {6}, {10}, {T}, random_sizes}) {
        EXPECT_EQ(stream_lfr(f, dim, m, n, sizes, true), offline) << "m=" << m << " T=" << T << " first=" << sizes[0];
      }
    }
  }
}

TEST(StreamingLfr, FinalCallWithFramesPadsLikeOffline) {
  // When the last call carries enough frames (cache + new >= m) the result equals offline.
  const int dim = 2, T = 40;
  const auto f = ramp_frames(T, dim);
  std::vector<float> offline;
  lfr_offline(f.data(), T, dim, 7, 6, offline);
  EXPECT_EQ(stream_lfr(f, dim, 7, 6, {20, 20}, false), offline);
  EXPECT_EQ(stream_lfr(f, dim, 7, 6, {T}, false), offline);
}

TEST(StreamingLfr, FunasrQuirkShortFinalCallDropsFrames) {
  // FunASR: if cache + new frames < m on the finishing call, the frames are cached and then
  // reset without output (ExtractFeats' else-branch followed by ResetCache).
  const int dim = 1, m = 7, n = 6;
  const auto f = ramp_frames(12, dim);
  StreamingLfr lfr(m, n, dim);
  std::vector<float> out;
  // 3 seeds + 10 = 13 frames: windows [0,7) and [6,13) complete; keep from min(12, 2*6) = 12.
  EXPECT_EQ(lfr.accept(f.data(), 10, false, out), 2);
  EXPECT_EQ(lfr.cached_frames(), 1);
  EXPECT_EQ(lfr.accept(f.data() + 10, 2, true, out), 0);  // 1 + 2 < 7 on the final call: dropped
  EXPECT_EQ(lfr.cached_frames(), 0);
  out.clear();
  StreamingLfr lfr2(m, n, dim);
  EXPECT_EQ(lfr2.accept(f.data(), 3, true, out), 0);  // 3 seeds + 3 < 7 -> dropped
  EXPECT_EQ(lfr2.cached_frames(), 0);
  EXPECT_TRUE(out.empty());
  std::vector<float> offline;
  lfr_offline(f.data(), 3, dim, m, n, offline);
  EXPECT_EQ(offline.size(), 7u);  // offline would have produced one frame
}

TEST(StreamingLfr, CacheSemantics) {
  const int dim = 1;
  const auto f = ramp_frames(30, dim);
  StreamingLfr lfr(7, 6, dim);
  std::vector<float> out;
  EXPECT_EQ(lfr.accept(f.data(), 2, false, out), 0);  // 3 seeds + 2 < 7: cached
  EXPECT_EQ(lfr.cached_frames(), 5);
  EXPECT_EQ(lfr.accept(f.data() + 2, 2, false, out), 1);  // 7 frames: window 0 = [s s s 0 1 2 3]
  EXPECT_EQ(frame_ids(out, 1), (std::vector<int>{0, 0, 0, 0, 1, 2, 3}));
  EXPECT_EQ(lfr.cached_frames(), 1);  // keep from min(T-1, 1*6) = 6: frame 3 only
  out.clear();
  EXPECT_EQ(lfr.accept(f.data() + 4, 6, false, out), 1);  // [3 4 5 6 7 8 9]
  EXPECT_EQ(frame_ids(out, 1), (std::vector<int>{3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(lfr.out_dim(), 7);
  EXPECT_GT(lfr.state_bytes(), 0u);
  lfr.reset();
  EXPECT_EQ(lfr.cached_frames(), 0);
  EXPECT_EQ(lfr.accept(nullptr, 0, true, out), 0);  // nothing cached: nothing to flush
  EXPECT_THROW(StreamingLfr(0, 1, 1), Error);
}

// Full streaming front end (fbank + LFR + CMVN) equals the offline one for audio pieces
// of any size, when the stream is closed with an empty finishing call.
TEST(StreamingFrontend, FbankLfrCmvnEqualsOffline) {
  FbankComputer fb(FbankOptions{});
  const Cmvn cmvn = Cmvn::load(fixture_path("am_560.mvn"));
  const auto x = test::synth_signal(16000 * 2 + 77, 21);
  std::vector<float> feats, offline;
  fb.compute(x, feats);
  const int T = static_cast<int>(feats.size() / 80);
  lfr_offline(feats.data(), T, 80, 7, 6, offline);
  cmvn.apply(offline.data(), static_cast<int>(offline.size() / 560), 560);

  std::mt19937 rng(3);
  std::vector<std::size_t> random_sizes;
  for (int i = 0; i < 100; ++i) random_sizes.push_back(std::uniform_int_distribution<std::size_t>(1, 3000)(rng));
  for (const auto& sizes : std::vector<std::vector<std::size_t>>{{1}, {160}, {400}, {800}, {9600}, {x.size()}, random_sizes}) {
    StreamingFbank sfb(fb);
    StreamingLfr lfr(7, 6, 80);
    std::vector<float> frames, out;
    std::size_t pos = 0, k = 0;
    while (pos < x.size()) {
      const std::size_t c = std::min(sizes[k++ % sizes.size()], x.size() - pos);
      frames.clear();
      const int nf = sfb.accept(std::span<const float>(x.data() + pos, c), frames);
      const std::size_t before = out.size();
      const int nl = lfr.accept(frames.data(), nf, false, out);
      cmvn.apply(out.data() + before, nl, 560);
      pos += c;
    }
    const std::size_t before = out.size();
    const int nl = lfr.accept(nullptr, 0, true, out);
    cmvn.apply(out.data() + before, nl, 560);
    ASSERT_EQ(out.size(), offline.size()) << "piece " << sizes[0];
    EXPECT_EQ(out, offline) << "piece " << sizes[0];
  }
}

// ---- CMVN parsing errors -------------------------------------------------------------------

TEST(Cmvn, ParsesMinimalAndApplies) {
  const auto c = Cmvn::parse("<Nnet>\n<AddShift> 3 3\n<LearnRateCoef> 0 [ -1 -2 -3 ]\n"
                             "<Rescale> 3 3\n<LearnRateCoef> 0 [ 2 0.5 1e-1 ]\n</Nnet>\n", "x.mvn");
  ASSERT_EQ(c.size(), 3u);
  std::vector<float> x = {1, 2, 3, 4, 1, 2, 3, 4};  // two rows of dim 4: column 3 untouched
  c.apply(x.data(), 2, 4);
  const std::vector<float> want = {0, 0, 0, 4, (1 - 1) * 2.0f, (2 - 2) * 0.5f, 0, 4};
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i], 1e-6) << i;
  std::vector<float> y = {5, 5, 5, 5};
  c.apply(y.data(), 1, 4);
  EXPECT_FLOAT_EQ(y[0], 8.0f);
  EXPECT_FLOAT_EQ(y[1], 1.5f);
  EXPECT_NEAR(y[2], 0.2f, 1e-6);
  EXPECT_THROW(c.check_dim(2, "feat"), Error);
}

void expect_error(const std::string& text, const std::string& needle) {
  try {
    Cmvn::parse(text, "bad.mvn");
    ADD_FAILURE() << "no error for: " << text;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.mvn", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(Cmvn, MalformedContentErrors) {
  const std::string shift = "<AddShift> 2 2\n<LearnRateCoef> 0 [ 1 2 ]\n";
  const std::string scale = "<Rescale> 2 2\n<LearnRateCoef> 0 [ 1 2 ]\n";
  expect_error("", "no <AddShift>");
  expect_error(shift, "no <Rescale>");
  expect_error(scale, "no <AddShift>");
  expect_error("<AddShift> 2 2\n", "no values line");
  expect_error("<AddShift> 2 2\n[ 1 2 ]\n" + scale, "expected '<LearnRateCoef>");
  expect_error("<AddShift> 2 2\n<LearnRateCoef> 0 1 2\n" + scale, "'[ ... ]'");
  expect_error("<AddShift> 2 2\n<LearnRateCoef> 0 [ 1 x ]\n" + scale, "'x' is not a number");
  expect_error(shift + "<Rescale> 3 3\n<LearnRateCoef> 0 [ 1 2 3 ]\n", "has 2 values but <Rescale> has 3");
  expect_error("<AddShift> 5 5\n<LearnRateCoef> 0 [ 1 2 ]\n" + scale, "declares dimension 5");
  expect_error(shift + shift + scale, "duplicate <AddShift>");
}

TEST(Cmvn, MissingFile) {
  try {
    Cmvn::load("/nonexistent/dir/am.mvn");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/am.mvn: cannot open"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace paraserve
