// SessionObserver: the session reports vad_end and offline_start (the server's memory ledger
// records them). Expected counts come from behaviour.json's sentence list, not from our output.
#include <gtest/gtest.h>

#include "../models_required.h"

#include <filesystem>
#include <vector>

#include "behav_util.h"
#include "pipeline/engine.h"
#include "pipeline/session.h"

namespace paraserve {
namespace {

using testing::behav_dir;
using testing::behaviour;
using testing::read_wav_s16;

struct Recorder final : SessionObserver {
  std::vector<int64_t> vad_ends, offline_starts;
  int offline_results = 0;
  void on_vad_end(int64_t ms) noexcept override { vad_ends.push_back(ms); }
  void on_offline_start(int64_t ms) noexcept override {
    // Called before the pass runs: no offline result for this segment may exist yet.
    EXPECT_EQ(static_cast<int>(offline_starts.size()), offline_results);
    offline_starts.push_back(ms);
  }
};

// Returns the largest StreamSession::state_bytes() seen after any piece.
std::size_t stream(Mode mode, Recorder& rec, int repeats = 1) {
  EngineConfig c = testing::behav_engine_config();
  SessionOptions o;
  o.mode = mode;
  o.observer = &rec;
  StreamSession s(load_engine(c), o);
  const auto pcm = read_wav_s16(behav_dir() + "/audio/three_sentences.wav").samples;
  std::vector<StreamResult> out;
  std::size_t max_bytes = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    for (std::size_t pos = 0; pos < pcm.size(); pos += 1600) {
      out.clear();
      s.feed(std::span<const int16_t>(pcm).subspan(pos, std::min<std::size_t>(1600, pcm.size() - pos)), out);
      for (const auto& r : out) rec.offline_results += r.has_offline;
      max_bytes = std::max(max_bytes, s.state_bytes());
    }
    out.clear();
    s.finish(out);
    for (const auto& r : out) rec.offline_results += r.has_offline;
  }
  return max_bytes;
}

TEST(SessionObserver, ReportsEachVadEndAndOfflinePass) {
  if (!std::filesystem::exists(behav_dir() + "/vad")) PARASERVE_MODELS_MISSING("models/behav not generated");
  const auto& sentences = behaviour()["files"]["three_sentences.wav"]["sentences"];
  Recorder rec;
  stream(Mode::kTwoPass, rec);
  ASSERT_EQ(rec.vad_ends.size(), sentences.size());
  ASSERT_EQ(rec.offline_starts.size(), sentences.size());
  EXPECT_EQ(rec.offline_results, static_cast<int>(sentences.size()));
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    const double spoken_ms = (sentences[i]["end_s"].get<double>() - sentences[i]["start_s"].get<double>()) * 1000;
    // The VAD pads segments (speech start/end margins), but never by seconds.
    EXPECT_GE(rec.vad_ends[i], spoken_ms * 0.8) << i;
    EXPECT_LE(rec.vad_ends[i], spoken_ms + 1500) << i;
    EXPECT_NEAR(rec.offline_starts[i], rec.vad_ends[i], 100) << i;
  }
}

TEST(SessionObserver, OnlineModeHasNoOfflinePass) {
  if (!std::filesystem::exists(behav_dir() + "/vad")) PARASERVE_MODELS_MISSING("models/behav not generated");
  Recorder rec;
  stream(Mode::kOnline, rec);
  EXPECT_EQ(rec.vad_ends.size(), behaviour()["files"]["three_sentences.wav"]["sentences"].size());
  EXPECT_TRUE(rec.offline_starts.empty());
}

}  // namespace
}  // namespace paraserve

namespace paraserve {
namespace {

// Issue 6: per-session memory follows the audio actually held. Sentences of 1-2 s with 2 s
// pauses keep at most ~2 s + the sentence in the history; the bound (60 s) is never reserved.
TEST(SessionObserver, ShortSentencesKeepSessionStateSmall) {
  if (!std::filesystem::exists(behav_dir() + "/vad")) PARASERVE_MODELS_MISSING("models/behav not generated");
  Recorder rec;
  const std::size_t max_bytes = stream(Mode::kTwoPass, rec, 3);
  // 4.2 MB was the pre-sized 65 s history alone; now history ~6 s worst case here (~400 KB).
  EXPECT_LT(max_bytes, 2u << 20);
  std::printf("max state_bytes over 3 x three_sentences.wav: %zu\n", max_bytes);
}

}  // namespace
}  // namespace paraserve
