#include "frontend/resampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>

#include "common/error.h"

namespace paraserve {
namespace {

std::vector<float> tone(double hz, int rate, double seconds, float amp = 0.5f) {
  std::vector<float> x(static_cast<std::size_t>(rate * seconds));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = amp * static_cast<float>(std::sin(2 * M_PI * hz * static_cast<double>(i) / rate));
  return x;
}

// Magnitude of the DFT of `x` at `hz` (Goertzel-free direct sum, normalised).
double magnitude_at(const std::vector<float>& x, double hz, int rate, std::size_t from, std::size_t len) {
  std::complex<double> acc = 0;
  for (std::size_t i = 0; i < len; ++i)
    acc += static_cast<double>(x[from + i]) * std::polar(1.0, -2 * M_PI * hz * static_cast<double>(i) / rate);
  return std::abs(acc) * 2 / static_cast<double>(len);
}

std::vector<float> one_shot(int in_rate, int out_rate, const std::vector<float>& x) {
  StreamingResampler r(in_rate, out_rate);
  std::vector<float> out;
  r.process(x, out);
  r.flush(out);
  return out;
}

TEST(Resampler, IdentityWhenRatesEqual) {
  StreamingResampler r(16000, 16000);
  EXPECT_TRUE(r.is_identity());
  const auto x = tone(440, 16000, 0.1);
  std::vector<float> out;
  r.process(x, out);
  r.flush(out);
  EXPECT_EQ(out, x);
}

TEST(Resampler, PiecesEqualOneShot) {
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 0.1f);
  for (const auto& [in_rate, out_rate] : {std::pair{8000, 16000}, std::pair{44100, 16000}, std::pair{48000, 16000},
                                          std::pair{22050, 16000}}) {
    auto x = tone(300, in_rate, 0.7);
    for (float& v : x) v += n(rng);
    const auto ref = one_shot(in_rate, out_rate, x);
    const double expect_len = static_cast<double>(x.size()) * out_rate / in_rate;
    EXPECT_NEAR(static_cast<double>(ref.size()), expect_len, 2.0) << in_rate;
    for (std::size_t piece : {1u, 7u, 160u, 441u, 4096u}) {
      StreamingResampler r(in_rate, out_rate);
      std::vector<float> out;
      for (std::size_t pos = 0; pos < x.size(); pos += piece)
        r.process(std::span<const float>(x.data() + pos, std::min(piece, x.size() - pos)), out);
      r.flush(out);
      ASSERT_EQ(out.size(), ref.size()) << in_rate << " piece " << piece;
      float maxd = 0;
      for (std::size_t i = 0; i < out.size(); ++i) maxd = std::max(maxd, std::abs(out[i] - ref[i]));
      EXPECT_LE(maxd, 1e-5f) << in_rate << " piece " << piece;
    }
  }
}

TEST(Resampler, ToneKeepsFrequency) {
  for (int in_rate : {8000, 44100, 48000}) {
    const auto y = one_shot(in_rate, 16000, tone(1000, in_rate, 0.5));
    ASSERT_GT(y.size(), 6000u);
    const std::size_t from = 1000, len = 4000;  // skip the edges
    const double at = magnitude_at(y, 1000, 16000, from, len);
    EXPECT_NEAR(at, 0.5, 0.01) << in_rate;
    EXPECT_LT(magnitude_at(y, 1250, 16000, from, len), 0.01) << in_rate;
    EXPECT_LT(magnitude_at(y, 750, 16000, from, len), 0.01) << in_rate;
  }
}

TEST(Resampler, RemovesContentAboveNewNyquist) {
  const auto y = one_shot(48000, 16000, tone(12000, 48000, 0.3));  // above 8 kHz: must vanish
  double energy = 0;
  for (std::size_t i = 500; i + 500 < y.size(); ++i) energy += static_cast<double>(y[i]) * y[i];
  EXPECT_LT(energy / static_cast<double>(y.size()), 1e-6);
}

TEST(Resampler, FlushResetsForNextStream) {
  const auto x = tone(500, 8000, 0.2);
  StreamingResampler r(8000, 16000);
  std::vector<float> a, b;
  r.process(x, a);
  r.flush(a);
  r.process(x, b);
  r.flush(b);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6f) << i;
}

TEST(Resampler, BadRates) {
  EXPECT_THROW(StreamingResampler(0, 16000), Error);
  EXPECT_THROW(StreamingResampler(16000, -1), Error);
}

}  // namespace
}  // namespace paraserve
