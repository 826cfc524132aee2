// One hour of audio through one StreamSession (behavioural models: their graphs are trivial,
// so an hour streams in seconds): the session's own state
// stays under a fixed budget that does not depend on the stream's duration.
//
// Budget (documented in src/pipeline/session.cpp terms):
//   audio history: 0.5 s blocks allocated as a segment grows, up to (max_single_segment_time
//                  60 s + 5 s slack) x 16 kHz x 4 B + one chunk ≈ 4.2 MB for a segment the VAD
//                  has to cut at 60 s; ~2 s (+ 2 spare blocks) outside speech
//   online decoder caches 16 x 512 x 10 x 4 B                                       ≈ 0.33 MB
//   VAD caches, fbank/LFR carries, overlap frames, encoder/decoder scratch            < 0.5 MB
// => 6 MB at most, whatever the duration (test_session_observer.cpp checks that sentences
//    of a few seconds cost far less).
#include <gtest/gtest.h>

#include "../models_required.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "pipeline/engine.h"
#include "pipeline/session.h"

namespace paraserve {
namespace {

constexpr std::size_t kBudgetBytes = 6u << 20;

TEST(SessionBounded, OneHourKeepsStateUnderBudget) {
  const std::string dir = std::string(PARASERVE_TEST_MODELS) + "/behav";
  if (!std::filesystem::exists(dir + "/vad")) PARASERVE_MODELS_MISSING("models/behav not generated");
  EngineConfig c;
  c.vad_dir = dir + "/vad";
  c.online_model_dir = dir + "/online";
  c.offline_model_dir = dir + "/offline";
  c.punc_dir = dir + "/punc";
  c.quantize = c.vad_quant = c.punc_quant = "false";
  auto engine = load_engine(c);
  StreamSession s(engine, {});

  // Tone words (the behavioural models' speech) for 3 s, then 2 s of near silence, plus
  // one 70 s stretch of continuous tones that forces the VAD's maximum segment length.
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<int16_t> piece(16000);  // fed in 1 s blocks
  std::vector<StreamResult> out;
  std::size_t max_first_half = 0, max_second_half = 0;
  const int seconds = 3600;
  std::size_t results = 0;
  for (int sec = 0; sec < seconds; ++sec) {
    const bool speech = sec % 5 < 3 || (sec >= 600 && sec < 670);
    for (std::size_t i = 0; i < piece.size(); ++i) {
      const float t = static_cast<float>(i) / 16000.f;
      float v = 0.002f * noise(rng);
      // 250 ms words cycling through four tone frequencies (docs/test-models.md: mel-bin centres).
      const float freqs[] = {279.f, 536.f, 1000.f, 2000.f};
      if (speech && (i % 4000) < 3200) v += 0.5f * std::sin(2.f * 3.14159265f * freqs[(i / 4000 + static_cast<std::size_t>(sec)) % 4] * t);
      piece[i] = static_cast<int16_t>(std::clamp(v, -1.f, 1.f) * 32767.f);
    }
    out.clear();
    s.feed(piece, out);
    results += out.size();
    const std::size_t bytes = s.state_bytes();
    (sec < seconds / 2 ? max_first_half : max_second_half) = std::max(sec < seconds / 2 ? max_first_half : max_second_half, bytes);
    ASSERT_LE(bytes, kBudgetBytes) << "at " << sec << " s";
  }
  out.clear();
  s.finish(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].is_final);
  // No growth with duration: the second half-hour needs no more than the first.
  EXPECT_LE(max_second_half, max_first_half);
  std::printf("state_bytes max: first 30 min %zu, last 30 min %zu, results %zu\n", max_first_half, max_second_half,
              results);
}

}  // namespace
}  // namespace paraserve
