// Streaming FSMN-VAD with the behavioural model (models/behav/vad): its speech probability
// follows the centre fbank frame's energy, so speech frames are the tone bursts of the test
// WAVs (+-1 frame). From the E2E rules (see test_vad_e2e.cpp): a sentence whose first burst
// starts at onset ms gets start_ms = onset - 260 (detected on its 15th speech frame, 400 ms
// lookback); a sentence whose last burst ends at end ms gets end_ms = end + 160.
#include <gtest/gtest.h>

#include "../models_required.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/audio_file.h"
#include "models/ort_runtime.h"
#include "models/vad_model.h"
#include "pipeline/vad_stream.h"

namespace paraserve {
namespace {

const std::string kBehav = std::string(PARASERVE_TEST_MODELS) + "/behav";

class VadStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kBehav + "/vad/model.onnx")) return;
    runtime_ = new OrtRuntime();
    model_ = new std::shared_ptr<const VadModel>(VadModel::load(kBehav + "/vad", "true", *runtime_));
    std::ifstream in(kBehav + "/behaviour.json");
    behaviour_ = new nlohmann::json(nlohmann::json::parse(in));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete behaviour_;
    delete runtime_;
    model_ = nullptr;
    behaviour_ = nullptr;
    runtime_ = nullptr;
  }
  void SetUp() override {
    if (!model_) PARASERVE_MODELS_MISSING("behavioural models not generated (" << kBehav << ")");
  }

  static std::vector<float> wav(const std::string& name) {
    return decode_audio_file(kBehav + "/audio/" + name).samples;
  }
  // Feeds `samples` in pieces from `sizes` (cycled), then an empty final call.
  static std::vector<VadSegmentEdge> feed(VadStream& vad, std::span<const float> samples,
                                          const std::vector<std::size_t>& sizes, bool empty_final = true) {
    std::vector<VadSegmentEdge> out;
    std::size_t pos = 0, k = 0;
    while (pos < samples.size()) {
      const std::size_t n = std::min(sizes[k++ % sizes.size()], samples.size() - pos);
      const bool last = !empty_final && pos + n == samples.size();
      vad.accept(samples.subspan(pos, n), last, out);
      pos += n;
    }
    if (empty_final) vad.accept({}, true, out);
    return out;
  }
  static std::vector<std::pair<int64_t, int64_t>> pairs(const std::vector<VadSegmentEdge>& e) {
    std::vector<std::pair<int64_t, int64_t>> p;
    for (auto& x : e) {
      if (x.start_ms >= 0) p.push_back({x.start_ms, -1});
      if (x.end_ms >= 0) {
        EXPECT_FALSE(p.empty()) << "end without start";
        if (!p.empty()) p.back().second = x.end_ms;
      }
    }
    return p;
  }

  static OrtRuntime* runtime_;
  static std::shared_ptr<const VadModel>* model_;
  static nlohmann::json* behaviour_;
};
OrtRuntime* VadStreamTest::runtime_ = nullptr;
std::shared_ptr<const VadModel>* VadStreamTest::model_ = nullptr;
nlohmann::json* VadStreamTest::behaviour_ = nullptr;

TEST_F(VadStreamTest, BehaviouralWavsGiveOneSegmentPerSentence) {
  for (const char* name : {"one_sentence.wav", "three_sentences.wav", "sample.wav", "silence.wav"}) {
    SCOPED_TRACE(name);
    const auto& sentences = (*behaviour_)["files"][name]["sentences"];
    auto samples = wav(name);
    VadStream vad(*model_);
    auto e = feed(vad, samples, {800});
    // 800-sample pieces: each start and each end arrives in its own piece (2 s pauses).
    ASSERT_EQ(e.size(), 2 * sentences.size());
    auto p = pairs(e);
    ASSERT_EQ(p.size(), sentences.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double onset = sentences[i]["start_s"].get<double>() * 1000;
      const double end = sentences[i]["end_s"].get<double>() * 1000;
      EXPECT_NEAR(p[i].first, onset - 260, 20) << "sentence " << i;
      EXPECT_NEAR(p[i].second, end + 160, 20) << "sentence " << i;
      EXPECT_EQ(p[i].first % 10, 0);
      EXPECT_EQ(p[i].second % 10, 0);
    }
  }
}

TEST_F(VadStreamTest, SpeechUpToTheLastSampleEndsAtTheLastFrame) {
  auto samples = wav("no_trailing_silence.wav");
  VadStream vad(*model_);
  auto e = feed(vad, samples, {800});
  ASSERT_EQ(e.size(), 2u);
  const double onset = (*behaviour_)["files"]["no_trailing_silence.wav"]["sentences"][0]["start_s"].get<double>();
  EXPECT_NEAR(e[0].start_ms, onset * 1000 - 260, 20);
  EXPECT_EQ(e[0].end_ms, -1);
  // The final flush ends the segment at the last fbank frame: T * 10 ms.
  const int64_t T = (static_cast<int64_t>(samples.size()) - 400) / 160 + 1;
  EXPECT_EQ(e[1], (VadSegmentEdge{-1, T * 10}));
}

TEST_F(VadStreamTest, EdgesDoNotDependOnPieceSizes) {
  auto samples = wav("three_sentences.wav");
  VadStream ref(*model_);
  const auto want = pairs(feed(ref, samples, {800}));
  ASSERT_EQ(want.size(), 3u);
  std::mt19937 rng(11);
  std::vector<std::size_t> random_sizes;
  for (int i = 0; i < 200; ++i) random_sizes.push_back(1 + rng() % 3000);
  for (const auto& sizes : std::vector<std::vector<std::size_t>>{
           {160}, {800}, {9600}, random_sizes, {samples.size()}, {1, 399, 401, 7}}) {
    VadStream vad(*model_);
    EXPECT_EQ(pairs(feed(vad, samples, sizes)), want) << "first piece " << sizes[0];
  }
  // Last piece carrying input_finished (FunASR's normal end): the behavioural model's
  // logits do not depend on the FSMN caches, so zeroing them for that call changes nothing.
  for (std::size_t piece : {std::size_t{800}, samples.size()}) {
    VadStream vad(*model_);
    EXPECT_EQ(pairs(feed(vad, samples, {piece}, false)), want) << "piece " << piece;
  }
}

TEST_F(VadStreamTest, FinishResetsForTheNextUtteranceAndStateStaysFlat) {
  auto samples = wav("sample.wav");
  VadStream vad(*model_);
  const auto first = feed(vad, samples, {800});
  const std::size_t bytes = vad.state_bytes();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(feed(vad, samples, {800}), first) << "round " << i;
  EXPECT_EQ(vad.state_bytes(), bytes);
  // reset() mid-stream behaves like a new stream
  std::vector<VadSegmentEdge> out;
  vad.accept(std::span<const float>(samples).first(50000), false, out);
  vad.reset();
  EXPECT_EQ(feed(vad, samples, {800}), first);
}

TEST_F(VadStreamTest, LongStreamWithoutFinishKeepsStateFlat) {
  auto samples = wav("three_sentences.wav");
  VadStream vad(*model_);
  std::vector<VadSegmentEdge> out;
  std::size_t bytes_after_first = 0;
  for (int rep = 0; rep < 12; ++rep) {  // ~2 min, 36 segments
    for (std::size_t pos = 0; pos < samples.size(); pos += 800) {
      vad.accept(std::span<const float>(samples).subspan(pos, std::min<std::size_t>(800, samples.size() - pos)), false,
                 out);
    }
    if (rep == 0) bytes_after_first = vad.state_bytes();
  }
  EXPECT_EQ(vad.state_bytes(), bytes_after_first);
  // 4 FSMN caches (38 KB), the model's output scratch (probs + output caches, 38 KB) and
  // feature buffers sized for 800-sample pieces.
  EXPECT_LT(vad.state_bytes(), 256u * 1024u);
  EXPECT_EQ(pairs(out).size(), 36u);
}

TEST_F(VadStreamTest, OfflineSegmentationMatchesStreaming) {
  for (const char* name : {"three_sentences.wav", "no_trailing_silence.wav", "silence.wav"}) {
    SCOPED_TRACE(name);
    auto samples = wav(name);
    VadStream vad(*model_);
    auto want = pairs(feed(vad, samples, {800}));
    EXPECT_EQ(vad_segments_offline(**model_, samples), want);
  }
}

TEST_F(VadStreamTest, TinyInputsProduceNoEdges) {
  VadStream vad(*model_);
  std::vector<VadSegmentEdge> out;
  std::vector<float> few(500, 0.3f);  // fewer than 3 fbank frames: FunASR emits nothing
  vad.accept(few, true, out);
  vad.accept({}, true, out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(vad_segments_offline(**model_, std::vector<float>(100, 0.1f)).empty());
}

}  // namespace
}  // namespace paraserve

namespace paraserve {
namespace {

// The tiny model is a real FSMN (random weights): its outputs depend on the caches, so a
// stream that was finished (or reset) must behave exactly like a new one.
TEST(VadStreamTiny, FinishAndResetClearTheFsmnCaches) {
  const std::string dir = std::string(PARASERVE_TEST_MODELS) + "/tiny/vad";
  const std::string audio = std::string(PARASERVE_TEST_MODELS) + "/behav/audio";
  if (!std::filesystem::exists(dir + "/model.onnx") || !std::filesystem::exists(audio))
    PARASERVE_MODELS_MISSING("test models not generated");
  OrtRuntime runtime;
  auto model = VadModel::load(dir, "false", runtime);
  auto a = decode_audio_file(audio + "/three_sentences.wav").samples;
  auto b = decode_audio_file(audio + "/sample.wav").samples;
  auto run = [](VadStream& vad, const std::vector<float>& s, bool finish) {
    std::vector<VadSegmentEdge> out;
    for (std::size_t pos = 0; pos < s.size(); pos += 800)
      vad.accept(std::span<const float>(s).subspan(pos, std::min<std::size_t>(800, s.size() - pos)), false, out);
    if (finish) vad.accept({}, true, out);
    return out;
  };
  VadStream fresh(model);
  const auto want = run(fresh, b, true);
  ASSERT_FALSE(want.empty()) << "the tiny VAD finds no speech; this test would prove nothing";
  VadStream finished(model);
  run(finished, a, true);
  EXPECT_EQ(run(finished, b, true), want);
  VadStream was_reset(model);
  run(was_reset, a, false);
  was_reset.reset();
  EXPECT_EQ(run(was_reset, b, true), want);
}

}  // namespace
}  // namespace paraserve

namespace paraserve {
namespace {

// FunASR's final-call quirk (fsmn-vad-online.cpp:84-87, fsmn-vad.cpp:124-129): the call with
// input_finished runs the model with zeroed FSMN caches; a finished or reset stream then
// produces exactly the probabilities of a new stream.
TEST(VadStreamTiny, FinalCallRunsWithZeroCachesAndFinishStartsOver) {
  const std::string dir = std::string(PARASERVE_TEST_MODELS) + "/tiny/vad";
  const std::string audio = std::string(PARASERVE_TEST_MODELS) + "/behav/audio";
  if (!std::filesystem::exists(dir + "/model.onnx") || !std::filesystem::exists(audio))
    PARASERVE_MODELS_MISSING("test models not generated");
  OrtRuntime runtime;
  auto model = VadModel::load(dir, "false", runtime);
  auto s = decode_audio_file(audio + "/one_sentence.wav").samples;
  s.resize(16000);  // 1 s: 99 fbank frames
  std::span<const float> all(s);
  std::vector<VadSegmentEdge> out;

  // Probabilities of each 800-sample piece of a stream, the last piece with `finish`.
  auto piece_probs = [&](VadStream& vad, bool finish) {
    std::vector<std::vector<float>> probs;
    for (std::size_t pos = 0; pos < s.size(); pos += 800) {
      vad.accept(all.subspan(pos, 800), finish && pos + 800 >= s.size(), out);
      probs.emplace_back(vad.last_probs().begin(), vad.last_probs().end());
    }
    return probs;
  };
  VadStream fresh(model);
  const auto want = piece_probs(fresh, true);

  // The final call's features: the last rows of the offline LFR+CMVN features.
  FbankComputer fb(model->config().fbank);
  std::vector<float> scaled(s.size()), fbank, lfr;
  for (std::size_t i = 0; i < s.size(); ++i) scaled[i] = s[i] * 32768.0f;
  fb.compute(scaled, fbank);
  const int T = static_cast<int>(fbank.size() / 80);
  lfr_offline(fbank.data(), T, 80, 5, 1, lfr);
  model->cmvn().apply(lfr.data(), T, 400);
  const int n_last = static_cast<int>(want.back().size() / 248);
  ASSERT_GE(n_last, 3);  // 5 new frames + 2 flushed, LFR lags 2
  std::array<std::vector<float>, 4> zero;
  for (auto& c : zero) c.assign(VadModel::kCacheFloats, 0.0f);
  std::vector<float> ref;
  model->run(lfr.data() + static_cast<std::size_t>(T - n_last) * 400, n_last,
             {zero[0].data(), zero[1].data(), zero[2].data(), zero[3].data()}, false, ref);
  EXPECT_EQ(want.back(), ref);
  // ... and those differ from what the carried caches give (the quirk is observable).
  std::vector<float> carried_ref;
  VadStream carried(model);
  for (std::size_t pos = 0; pos + 800 < s.size(); pos += 800) carried.accept(all.subspan(pos, 800), false, out);
  // same frames as the final call, but through the stream's caches: last piece, then flush
  carried.accept(all.subspan(s.size() - 800, 800), false, out);
  carried_ref.assign(carried.last_probs().begin(), carried.last_probs().end());
  ASSERT_GE(carried_ref.size(), 3u * 248u);
  EXPECT_NE(std::vector<float>(want.back().begin(), want.back().begin() + 3 * 248),
            std::vector<float>(carried_ref.begin(), carried_ref.begin() + 3 * 248));

  // A finished stream, and a reset one, start over exactly.
  VadStream reused(model);
  piece_probs(reused, true);
  EXPECT_EQ(piece_probs(reused, true), want);
  VadStream was_reset(model);
  for (std::size_t pos = 0; pos < 8000; pos += 800) was_reset.accept(all.subspan(pos, 800), false, out);
  was_reset.reset();
  EXPECT_EQ(piece_probs(was_reset, true), want);
}

}  // namespace
}  // namespace paraserve
