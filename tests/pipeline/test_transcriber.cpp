// TranscribeStream (`paraserve transcribe`'s pipeline) with the behavioural models: feeding
// a file in blocks of any size gives the one-shot transcript, and the stream's own memory
// stays flat however long the input is.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "behav_util.h"
#include "pipeline/engine.h"
#include "pipeline/transcriber.h"

namespace paraserve {
namespace {

using testing::behav_dir;
using testing::read_wav_s16;

bool have_behav() { return std::filesystem::exists(behav_dir() + "/behaviour.json"); }

std::shared_ptr<const Engine> engine() {
  static std::shared_ptr<const Engine> e = [] {
    EngineConfig c;
    c.vad_dir = behav_dir() + "/vad";
    c.online_model_dir = behav_dir() + "/online";
    c.offline_model_dir = behav_dir() + "/offline-ts";
    c.punc_dir = behav_dir() + "/punc-offline";
    c.quantize = c.vad_quant = c.punc_quant = "false";
    return load_engine(c);
  }();
  return e;
}

std::vector<float> floats(const std::vector<std::string>& names, int repeat = 1) {
  std::vector<float> x;
  for (int r = 0; r < repeat; ++r) {
    for (const auto& n : names) {
      for (int16_t v : read_wav_s16(behav_dir() + "/audio/" + n).samples) x.push_back(static_cast<float>(v) / 32768.0f);
    }
  }
  return x;
}

struct Collect : TranscriptSink {
  Transcript t;
  void on_segment(const Transcript::Segment& s) override { t.segments.push_back(s); }
  void on_stamps(std::span<const TokenStamp> s) override { t.timestamps.insert(t.timestamps.end(), s.begin(), s.end()); }
  void on_text(std::string_view s) override { t.text += s; }
  void on_sentence(const SentenceStamp& s) override { t.stamp_sents.push_back(s); }
};

void expect_same(const Transcript& a, const Transcript& b) {
  EXPECT_EQ(a.text, b.text);
  ASSERT_EQ(a.timestamps.size(), b.timestamps.size());
  for (std::size_t i = 0; i < a.timestamps.size(); ++i) {
    EXPECT_EQ(a.timestamps[i].begin_ms, b.timestamps[i].begin_ms) << i;
    EXPECT_EQ(a.timestamps[i].end_ms, b.timestamps[i].end_ms) << i;
  }
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    EXPECT_EQ(a.segments[i].start_ms, b.segments[i].start_ms);
    EXPECT_EQ(a.segments[i].end_ms, b.segments[i].end_ms);
    EXPECT_EQ(a.segments[i].text, b.segments[i].text);
  }
  ASSERT_EQ(a.stamp_sents.size(), b.stamp_sents.size());
  for (std::size_t i = 0; i < a.stamp_sents.size(); ++i) {
    EXPECT_EQ(a.stamp_sents[i].text_seg, b.stamp_sents[i].text_seg);
    EXPECT_EQ(a.stamp_sents[i].punc, b.stamp_sents[i].punc);
    EXPECT_EQ(a.stamp_sents[i].start, b.stamp_sents[i].start);
    EXPECT_EQ(a.stamp_sents[i].end, b.stamp_sents[i].end);
    EXPECT_EQ(a.stamp_sents[i].ts_list.size(), b.stamp_sents[i].ts_list.size());
  }
}

TEST(TranscribeStream, AnyBlockSizesGiveTheOneShotTranscript) {
  if (!have_behav()) GTEST_SKIP() << "models/behav not generated (scripts/make-models.sh behav)";
  Transcriber tr(engine());
  const auto x = floats({"sample.wav", "three_sentences.wav", "no_trailing_silence.wav", "one_sentence.wav"});
  const Transcript whole = tr.transcribe(x);
  ASSERT_EQ(whole.segments.size(), 7u);  // no_trailing_silence runs into one_sentence (0.5 s apart)
  EXPECT_EQ(whole.text, "你好，世界。hello world。我们是server吗？今天气很好，hello world。我们是server吗？你好，吗？你好，世界。");
  std::mt19937 rng(1);
  for (int trial = 0; trial < 4; ++trial) {
    Collect c;
    auto s = tr.stream(c);
    const std::size_t max_block = trial == 0 ? 1 : trial == 1 ? 16001 : 50000;
    for (std::size_t pos = 0; pos < x.size();) {
      const std::size_t n = std::min(x.size() - pos, trial == 0 ? std::size_t{160} : 1 + rng() % max_block);
      s->accept(std::span<const float>(x.data() + pos, n));
      pos += n;
    }
    s->finish();
    SCOPED_TRACE(trial);
    expect_same(c.t, whole);
  }
}

TEST(TranscribeStream, OwnMemoryIsFlatForLongInput) {
  if (!have_behav()) GTEST_SKIP() << "models/behav not generated (scripts/make-models.sh behav)";
  Transcriber tr(engine());
  const auto unit = floats({"sample.wav", "three_sentences.wav"});  // 21 s
  Collect c;
  auto s = tr.stream(c);
  std::size_t max_at_2min = 0, max_total = 0;
  const std::size_t block = 4096;
  for (int rep = 0; rep < 30; ++rep) {  // 10.5 min
    for (std::size_t pos = 0; pos < unit.size(); pos += block) {
      s->accept(std::span<const float>(unit.data() + pos, std::min(block, unit.size() - pos)));
      max_total = std::max(max_total, s->state_bytes());
    }
    if (rep == 5) {
      max_at_2min = max_total;
      // Results arrive while the audio is still coming, not at the end.
      EXPECT_GE(c.t.segments.size(), 30u);
      EXPECT_GT(c.t.text.size(), 100u);
      EXPECT_GT(c.t.stamp_sents.size(), 10u);
    }
  }
  s->finish();
  EXPECT_EQ(c.t.segments.size(), 180u);
  // Audio history: the open segment plus a few seconds, not the file (10 min = 40 MB).
  EXPECT_LT(max_total, 4u << 20);
  EXPECT_LE(max_total, max_at_2min + 64 * 1024);
}

}  // namespace
}  // namespace paraserve
