#include "frontend/fbank.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "common/error.h"
#include "fixture_util.h"

namespace paraserve {
namespace {

using test::load_fbank_fixture;
using test::max_abs_diff;

class FbankReference : public ::testing::TestWithParam<const char*> {};

// torchaudio.compliance.kaldi.fbank with FunASR's options is the reference (tolerance 1e-3).
TEST_P(FbankReference, MatchesTorchaudioKaldi) {
  const auto fx = load_fbank_fixture(GetParam());
  FbankComputer fb(FbankOptions{});
  ASSERT_EQ(fb.dim(), fx.dim);
  ASSERT_EQ(fb.num_frames(fx.samples.size()), fx.num_frames);
  std::vector<float> out;
  fb.compute(fx.samples, out);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(fx.num_frames) * 80);
  const float diff = max_abs_diff(out, fx.fbank);
  std::printf("[fbank fixture] %-10s frames=%3d max|diff|=%.3g\n", fx.name.c_str(), fx.num_frames, diff);
  EXPECT_LE(diff, 1e-3f) << fx.name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FbankReference,
                         ::testing::Values("speech", "tone440", "tone3k_dc", "silence", "clipping", "lsb_noise",
                                           "short399", "short400", "short559", "short560"));

TEST(Fbank, SilenceHitsEpsilonFloor) {
  FbankComputer fb(FbankOptions{});
  std::vector<float> zeros(800, 0.0f), out;
  fb.compute(zeros, out);
  ASSERT_EQ(out.size(), 3u * 80);
  for (float v : out) EXPECT_FLOAT_EQ(v, std::log(FLT_EPSILON));
}

TEST(Fbank, FrameCountsSnipEdges) {
  FbankComputer fb(FbankOptions{});
  EXPECT_EQ(fb.frame_length(), 400);
  EXPECT_EQ(fb.frame_shift(), 160);
  EXPECT_EQ(fb.padded_length(), 512);
  EXPECT_EQ(fb.num_frames(0), 0);
  EXPECT_EQ(fb.num_frames(399), 0);
  EXPECT_EQ(fb.num_frames(400), 1);
  EXPECT_EQ(fb.num_frames(559), 1);
  EXPECT_EQ(fb.num_frames(560), 2);
  EXPECT_EQ(fb.num_frames(16000), 98);
}

TEST(Fbank, AppendsToOutput) {
  FbankComputer fb(FbankOptions{});
  const auto x = test::synth_signal(1000);
  std::vector<float> once, twice;
  fb.compute(x, once);
  fb.compute(x, twice);
  fb.compute(x, twice);
  ASSERT_EQ(twice.size(), 2 * once.size());
  EXPECT_TRUE(std::equal(once.begin(), once.end(), twice.begin() + static_cast<std::ptrdiff_t>(once.size())));
}

TEST(Fbank, OptionsValidation) {
  auto bad = [](auto mutate) {
    FbankOptions o;
    mutate(o);
    EXPECT_THROW(o.validate(), Error);
    EXPECT_THROW(FbankComputer{o}, Error);
  };
  bad([](FbankOptions& o) { o.sample_rate = 0; });
  bad([](FbankOptions& o) { o.frame_length_ms = 0; });
  bad([](FbankOptions& o) { o.frame_shift_ms = -1; });
  bad([](FbankOptions& o) { o.n_mels = 2; });
  bad([](FbankOptions& o) { o.window = "hann"; });
  bad([](FbankOptions& o) { o.low_freq = 9000; });
  bad([](FbankOptions& o) { o.high_freq = 9000; });
  bad([](FbankOptions& o) { o.preemph = 1.5f; });
  try {
    FbankOptions o;
    o.window = "hann";
    o.validate();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("window 'hann'"), std::string::npos) << e.what();
  }
  FbankOptions ok;
  ok.sample_rate = 8000;
  ok.n_mels = 40;
  EXPECT_NO_THROW(FbankComputer{ok});
}

TEST(Fbank, ComputeIsThreadSafe) {
  FbankComputer fb(FbankOptions{});
  const auto x = test::synth_signal(16000, 3);
  std::vector<float> ref;
  fb.compute(x, ref);
  std::vector<std::vector<float>> outs(4);
  std::vector<std::thread> th;
  for (auto& o : outs) th.emplace_back([&fb, &x, &o] { for (int r = 0; r < 3; ++r) { o.clear(); fb.compute(x, o); } });
  for (auto& t : th) t.join();
  for (const auto& o : outs) EXPECT_EQ(o, ref);
}

TEST(Fbank, ConcurrentConstruction) {  // planning is serialised internally
  std::vector<std::thread> th;
  for (int i = 0; i < 4; ++i) th.emplace_back([] { for (int r = 0; r < 5; ++r) FbankComputer fb(FbankOptions{}); });
  for (auto& t : th) t.join();
  SUCCEED();
}

// ---- streaming ----------------------------------------------------------------------------

std::vector<float> stream_in_pieces(const FbankComputer& fb, const std::vector<float>& x,
                                    const std::vector<std::size_t>& sizes) {
  StreamingFbank s(fb);
  std::vector<float> out;
  std::size_t pos = 0, k = 0;
  while (pos < x.size()) {
    const std::size_t n = std::min(sizes[k++ % sizes.size()], x.size() - pos);
    s.accept(std::span<const float>(x.data() + pos, n), out);
    pos += n;
    EXPECT_LT(s.pending_samples(), static_cast<std::size_t>(fb.frame_length()));
  }
  return out;
}

TEST(StreamingFbank, AnyPieceSizesEqualOffline) {
  FbankComputer fb(FbankOptions{});
  const auto x = test::synth_signal(16000 + 123, 5);
  std::vector<float> offline;
  fb.compute(x, offline);
  std::mt19937 rng(11);
  std::vector<std::size_t> random_sizes;
  for (int i = 0; i < 200; ++i) random_sizes.push_back(std::uniform_int_distribution<std::size_t>(0, 1200)(rng));
  const std::vector<std::vector<std::size_t>> cases = {{1}, {160}, {400}, {800}, {x.size()}, {399, 1, 7}, random_sizes};
  for (const auto& sizes : cases) {
    const auto streamed = stream_in_pieces(fb, x, sizes);
    ASSERT_EQ(streamed.size(), offline.size()) << "first piece size " << sizes[0];
    EXPECT_EQ(streamed, offline) << "first piece size " << sizes[0];  // same arithmetic: bit-exact
  }
}

TEST(StreamingFbank, CarriesTailAndResets) {
  FbankComputer fb(FbankOptions{});
  StreamingFbank s(fb);
  const auto x = test::synth_signal(1000, 9);
  std::vector<float> out;
  EXPECT_EQ(s.accept(std::span<const float>(x.data(), 399), out), 0);
  EXPECT_EQ(s.pending_samples(), 399u);
  EXPECT_EQ(s.accept(std::span<const float>(x.data() + 399, 1), out), 1);
  EXPECT_EQ(s.pending_samples(), 240u);  // samples from the next frame start (160) on
  EXPECT_EQ(s.accept(std::span<const float>(x.data() + 400, 600), out), 3);  // 1000 samples -> 4 frames
  EXPECT_EQ(s.pending_samples(), 360u);  // 1000 - 4 * 160
  s.reset();
  EXPECT_EQ(s.pending_samples(), 0u);
  std::vector<float> again, ref;
  s.accept(x, again);
  fb.compute(x, ref);
  EXPECT_EQ(again, ref);
  EXPECT_GT(s.state_bytes(), 0u);
  EXPECT_LT(s.state_bytes(), 64u * 1024);
}

}  // namespace
}  // namespace paraserve
