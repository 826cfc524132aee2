// ITN in the pipeline, with the behavioural models and the test ITN grammar plus the behavioural
// whitelist (tests/itn_behav_whitelist.tsv: 很好 -> 100分, 世界 -> 2024年): the 2pass-offline
// text of a session (only when the utterance asks for it), `transcribe` files, the stamps
// re-aligned as FunASR's TimestampSmooth does, and partials left alone.
#include <gtest/gtest.h>

#include "../itn_fixture.h"
#include "../models_required.h"

#include <filesystem>
#include <string>
#include <vector>

#include "behav_util.h"
#include "frontend/audio_file.h"
#include "pipeline/engine.h"
#include "pipeline/engine_impl.h"
#include "pipeline/itn_stage.h"
#include "pipeline/session.h"
#include "pipeline/transcriber.h"
#include "text/itn.h"

namespace paraserve {
namespace {

using testing::behav_dir;
using testing::read_wav_s16;

#define REQUIRE_BEHAV()                                               \
  if (!std::filesystem::exists(behav_dir() + "/behaviour.json"))      \
  PARASERVE_MODELS_MISSING("models/behav not generated (scripts/make-models.sh behav)")

using Pairs = std::vector<std::pair<int64_t, int64_t>>;
Pairs P(const std::vector<TokenStamp>& s) {
  Pairs p;
  for (const auto& x : s) p.emplace_back(x.begin_ms, x.end_ms);
  return p;
}

EngineConfig behav_config(bool itn) {
  EngineConfig c;
  c.vad_dir = behav_dir() + "/vad";
  c.online_model_dir = behav_dir() + "/online";
  c.offline_model_dir = behav_dir() + "/offline-ts";
  c.punc_dir = behav_dir() + "/punc";
  c.quantize = c.vad_quant = c.punc_quant = "false";
  if (itn) c.itn_dir = testing::itn_behav_dir();
  return c;
}

struct SessionRun {
  std::vector<std::string> offline;             // 2pass-offline texts, in order
  std::vector<std::vector<TokenStamp>> stamps;  // their stamps
  std::vector<std::vector<SentenceStamp>> sents;
  std::string online;
};

SessionRun run_session(const std::shared_ptr<const Engine>& engine, const std::string& file, bool itn, Mode mode = Mode::kTwoPass) {
  auto pcm = read_wav_s16(behav_dir() + "/audio/" + file);
  SessionOptions o;
  o.sample_rate = pcm.sample_rate;
  o.itn = itn;
  o.mode = mode;
  StreamSession s(engine, o);
  std::vector<StreamResult> results;
  s.feed(pcm.samples, results);
  s.finish(results);
  SessionRun r;
  for (const auto& x : results) {
    r.online += x.online_text;
    if (x.has_offline) {
      r.offline.push_back(x.offline_text);
      r.stamps.push_back(x.timestamps);
      r.sents.push_back(x.stamp_sents);
    }
  }
  return r;
}

// FunASR's spreading of one span over `count` units (integer interval, last ends at the end).
std::vector<TokenStamp> spread(int64_t b, int64_t e, int count) {
  std::vector<TokenStamp> v;
  const int64_t step = (e - b) / count;
  for (int k = 0; k < count; ++k) v.push_back({b + step * k, k == count - 1 ? e : b + step * (k + 1)});
  return v;
}

class ItnPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_BEHAV();
    plain_ = load_engine(behav_config(false));
    with_itn_ = load_engine(behav_config(true));
  }
  std::shared_ptr<const Engine> plain_, with_itn_;
};

TEST_F(ItnPipeline, EngineDescribesTheItnModel) {
  const auto lines = describe_engine(*with_itn_);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("itn: "), std::string::npos);
  EXPECT_NE(lines.back().find("zh_itn_tagger.fst"), std::string::npos);
  EXPECT_FALSE(plain_->itn);
}

TEST_F(ItnPipeline, TwoPassOfflineTextIsNormalisedAndStampsRealigned) {
  const SessionRun raw = run_session(plain_, "one_sentence.wav", true);
  const SessionRun itn = run_session(with_itn_, "one_sentence.wav", true);
  // (The realtime punctuation holds the final 。 for the next sentence.)
  ASSERT_EQ(raw.offline, std::vector<std::string>{"你好，世界"});
  ASSERT_EQ(itn.offline, std::vector<std::string>{"你好，2024年"});
  // 你 好 keep their stamps; 世 界's span goes evenly to 2 0 2 4 年.
  const auto& s = raw.stamps[0];
  ASSERT_EQ(s.size(), 4u);
  std::vector<TokenStamp> want{s[0], s[1]};
  for (const auto& x : spread(s[2].begin_ms, s[3].end_ms, 5)) want.push_back(x);
  EXPECT_EQ(P(itn.stamps[0]), P(want));
  // Sentence stamps come from the normalised text.
  ASSERT_EQ(itn.sents[0].size(), 2u);
  EXPECT_EQ(itn.sents[0][1].text_seg, "2 0 2 4 年");
  EXPECT_EQ(itn.sents[0][1].start, s[2].begin_ms);
  EXPECT_EQ(itn.sents[0][1].end, s[3].end_ms);
  // Partials are never normalised.
  EXPECT_EQ(itn.online, raw.online);
}

TEST_F(ItnPipeline, UtteranceFlagFalseLeavesTextAlone) {
  const SessionRun raw = run_session(plain_, "three_sentences.wav", true);
  const SessionRun off = run_session(with_itn_, "three_sentences.wav", false);
  EXPECT_EQ(off.offline, raw.offline);
  ASSERT_EQ(off.stamps.size(), raw.stamps.size());
  for (std::size_t i = 0; i < off.stamps.size(); ++i) EXPECT_EQ(P(off.stamps[i]), P(raw.stamps[i]));
  const SessionRun on = run_session(with_itn_, "three_sentences.wav", true);
  ASSERT_EQ(raw.offline.size(), 3u);
  EXPECT_EQ(raw.offline[0], "今天气很好");
  EXPECT_EQ(on.offline, (std::vector<std::string>{"今天气100分", raw.offline[1], raw.offline[2]}));
}

TEST_F(ItnPipeline, NoItnModelMeansTheFlagDoesNothing) {
  const SessionRun a = run_session(plain_, "one_sentence.wav", true);
  const SessionRun b = run_session(plain_, "one_sentence.wav", false);
  EXPECT_EQ(a.offline, b.offline);
}

TEST_F(ItnPipeline, OfflineModeIsNormalised) {
  const SessionRun itn = run_session(with_itn_, "one_sentence.wav", true, Mode::kOffline);
  EXPECT_EQ(itn.offline, std::vector<std::string>{"你好，2024年"});
  EXPECT_TRUE(itn.online.empty());
}

TEST_F(ItnPipeline, OnlineModeIsNotNormalised) {
  const SessionRun itn = run_session(with_itn_, "one_sentence.wav", true, Mode::kOnline);
  EXPECT_TRUE(itn.offline.empty());
  EXPECT_EQ(itn.online, "你好世界");
}

Transcript transcribe(const std::shared_ptr<const Engine>& engine, const std::string& file) {
  const auto pcm = read_wav_s16(behav_dir() + "/audio/" + file);
  std::vector<float> f(pcm.samples.size());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(pcm.samples[i]) / 32768.0f;
  return Transcriber(engine).transcribe(f);
}

TEST_F(ItnPipeline, TranscribeNormalisesEverySentence) {
  const Transcript raw = transcribe(plain_, "three_sentences.wav");
  const Transcript itn = transcribe(with_itn_, "three_sentences.wav");
  ASSERT_EQ(raw.text, "今天气很好，hello world。我们是server吗？");
  EXPECT_EQ(itn.text, "今天气100分，hello world。我们是server吗？");
  // 很 好 (stamps 3, 4) -> 1 0 0 分; everything else unchanged.
  const auto& s = raw.timestamps;
  ASSERT_EQ(s.size(), 12u);
  std::vector<TokenStamp> want(s.begin(), s.begin() + 3);
  for (const auto& x : spread(s[3].begin_ms, s[4].end_ms, 4)) want.push_back(x);
  want.insert(want.end(), s.begin() + 5, s.end());
  EXPECT_EQ(P(itn.timestamps), P(want));
  ASSERT_EQ(itn.stamp_sents.size(), raw.stamp_sents.size());
  EXPECT_EQ(itn.stamp_sents[0].text_seg, "今 天 气 1 0 0 分 ，hello world");
  EXPECT_EQ(itn.stamp_sents[1].text_seg, raw.stamp_sents[1].text_seg);
}

TEST_F(ItnPipeline, TranscribeWithoutTimestampModel) {
  EngineConfig c = behav_config(true);
  c.offline_model_dir = behav_dir() + "/offline";
  c.punc_dir = behav_dir() + "/punc-offline";
  const Transcript t = transcribe(load_engine(c), "one_sentence.wav");
  EXPECT_EQ(t.text, "你好，2024年。");
  EXPECT_TRUE(t.timestamps.empty());
}

// --- ItnTextStream on the plain test grammar -------------------------------------------------

class ItnStream : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = testing::itn_test_dir();
    ASSERT_FALSE(dir.empty());
    itn_ = InverseTextNormalizer::load(dir);
  }
  std::shared_ptr<const InverseTextNormalizer> itn_;
  std::string text_;
  std::vector<TokenStamp> stamps_;
};

TEST_F(ItnStream, CutsAfterSentenceEndsSoNumbersAreNotSplit) {
  ItnTextStream s(*itn_, false);
  s.add_text("我有一百");
  EXPECT_FALSE(s.take(false, text_, stamps_));  // no sentence end yet: 一百 may continue
  s.add_text("二十三个。价格是十三");
  ASSERT_TRUE(s.take(false, text_, stamps_));
  EXPECT_EQ(text_, "我有123个。");
  EXPECT_FALSE(s.take(false, text_, stamps_));
  s.add_text("点五元");
  ASSERT_TRUE(s.take(true, text_, stamps_));
  EXPECT_EQ(text_, "价格是¥13.5");
  EXPECT_FALSE(s.take(true, text_, stamps_));
}

TEST_F(ItnStream, SentenceWaitsForItsStamps) {
  ItnTextStream s(*itn_, true);
  s.add_text("一百，二十三。");  // five units
  s.add_stamps(std::vector<TokenStamp>{{0, 100}, {100, 200}, {300, 400}});
  EXPECT_FALSE(s.take(false, text_, stamps_));
  s.add_stamps(std::vector<TokenStamp>{{400, 500}, {500, 600}, {700, 800}});
  ASSERT_TRUE(s.take(false, text_, stamps_));
  EXPECT_EQ(text_, "100，23。");
  // No word unit is unchanged, so (punctuation being left out of the alignment) the whole piece
  // is one run: 0..600 over five units.
  EXPECT_EQ(P(stamps_), (Pairs{{0, 120}, {120, 240}, {240, 360}, {360, 480}, {480, 600}}));
  // The extra stamp goes with the last piece at the end (here: none left to align).
  EXPECT_FALSE(s.take(true, text_, stamps_));
}

}  // namespace
}  // namespace paraserve
