// StreamSession's stepped API (feed_until_second_pass / begin_finish / run_second_pass, used
// by the server to run second passes as low-priority work) against the one-call feed/finish:
// every result field must be identical, in the same order, on the behavioural and the tiny
// models, whatever the piece sizes and however late the second pass runs.
#include <gtest/gtest.h>

#include "../models_required.h"

#include <filesystem>
#include <random>
#include <sstream>

#include "behav_util.h"
#include "pipeline/engine.h"
#include "pipeline/session.h"

namespace paraserve {
namespace {

using testing::behav_dir;
using testing::models_dir;
using testing::read_wav_s16;

// Every field of a result, so that "identical" means byte-identical replies.
std::string dump(const std::vector<StreamResult>& rs) {
  std::ostringstream o;
  for (const auto& r : rs) {
    o << "on=" << r.online_text << "|off=" << r.has_offline << ':' << r.offline_text << "|ts=" << r.has_timestamps;
    for (const auto& t : r.timestamps) o << '[' << t.begin_ms << ',' << t.end_ms << ']';
    o << "|ss=";
    for (const auto& s : r.stamp_sents) {
      o << '{' << s.text_seg << '/' << s.punc << '/' << s.start << '/' << s.end;
      for (const auto& t : s.ts_list) o << '[' << t.begin_ms << ',' << t.end_ms << ']';
      o << '}';
    }
    o << "|vad=" << r.vad_start_ms << ',' << r.vad_end_ms << "|final=" << r.is_final << "|err=" << r.error << '\n';
  }
  return o.str();
}

EngineConfig config_for(const std::string& dir, const std::string& offline) {
  EngineConfig c;
  c.vad_dir = dir + "/vad";
  c.online_model_dir = dir + "/online";
  c.offline_model_dir = dir + "/" + offline;
  c.punc_dir = dir + "/punc";
  c.quantize = c.vad_quant = c.punc_quant = "false";
  return c;
}

struct Run {
  std::vector<StreamResult> results;
  int second_passes = 0;  // stops of the stepped API
};

// The one-call path.
Run run_plain(StreamSession& s, const std::vector<int16_t>& pcm, std::size_t piece) {
  Run run;
  for (std::size_t pos = 0; pos < pcm.size(); pos += piece)
    s.feed(std::span<const int16_t>(pcm.data() + pos, std::min(piece, pcm.size() - pos)), run.results);
  s.finish(run.results);
  return run;
}

// The stepped path, as the server drives it: feed until a second pass is pending, keep the
// rest of the batch, run the second pass (here: after `delay` extra checks that nothing is
// fed meanwhile), then go on with the rest.
Run run_stepped(StreamSession& s, const std::vector<int16_t>& pcm, std::size_t piece) {
  Run run;
  for (std::size_t pos = 0; pos < pcm.size(); pos += piece) {
    std::span<const int16_t> batch(pcm.data() + pos, std::min(piece, pcm.size() - pos));
    while (!batch.empty()) {
      const std::size_t used = s.feed_until_second_pass(batch, run.results);
      batch = batch.subspan(used);
      if (s.second_pass_pending()) {
        ++run.second_passes;
        EXPECT_GT(used, 0u);
        std::vector<StreamResult> none;
        EXPECT_THROW(s.feed_until_second_pass(batch, none), std::exception);  // nothing may pass it
        EXPECT_TRUE(none.empty());
        s.run_second_pass(run.results);
        EXPECT_FALSE(s.second_pass_pending());
      } else {
        EXPECT_TRUE(batch.empty());
      }
    }
  }
  if (!s.begin_finish(run.results)) {
    ++run.second_passes;
    EXPECT_TRUE(s.second_pass_pending());
    EXPECT_TRUE(run.results.empty() || !run.results.back().is_final);
    s.run_second_pass(run.results);
  }
  EXPECT_TRUE(!run.results.empty() && run.results.back().is_final);
  return run;
}

void expect_parity(const std::string& models, const std::string& offline, const std::string& wav, Mode mode,
                   int min_second_passes) {
  SCOPED_TRACE(models + " " + offline + " " + wav + " mode " + std::to_string(static_cast<int>(mode)));
  auto engine = load_engine(config_for(models, offline));
  auto pcm = read_wav_s16(behav_dir() + "/audio/" + wav);
  SessionOptions opt;
  opt.mode = mode;
  opt.sample_rate = pcm.sample_rate;
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::size_t> dist(1, 12000);
  for (std::size_t piece : {std::size_t{960}, std::size_t{1920}, std::size_t{8000}, pcm.samples.size(), std::size_t{0}}) {
    const std::size_t p = piece ? piece : dist(rng);
    StreamSession a(engine, opt), b(engine, opt);
    // Two utterances on the same session: the second starts from the reset state.
    Run plain = run_plain(a, pcm.samples, p);
    Run stepped = run_stepped(b, pcm.samples, p);
    Run plain2 = run_plain(a, pcm.samples, p);
    Run stepped2 = run_stepped(b, pcm.samples, p);
    EXPECT_EQ(dump(stepped.results), dump(plain.results)) << "piece " << p;
    EXPECT_EQ(dump(stepped2.results), dump(plain2.results)) << "piece " << p;
    EXPECT_GE(stepped.second_passes, min_second_passes) << "piece " << p;
  }
}

bool have(const std::string& dir) { return std::filesystem::exists(dir + "/online/model.onnx"); }

TEST(SessionSplit, BehaviouralModelsGiveIdenticalResults) {
  if (!have(behav_dir())) PARASERVE_MODELS_MISSING("models/behav not generated (scripts/make-models.sh behav)");
  // three_sentences: three VAD ends, so at least three second passes; no_trailing_silence
  // ends inside speech (the final result comes from a pending second pass of begin_finish).
  expect_parity(behav_dir(), "offline", "three_sentences.wav", Mode::kTwoPass, 3);
  expect_parity(behav_dir(), "offline-ts", "three_sentences.wav", Mode::kTwoPass, 3);
  expect_parity(behav_dir(), "offline", "no_trailing_silence.wav", Mode::kTwoPass, 1);
  expect_parity(behav_dir(), "offline", "one_sentence_8k.wav", Mode::kTwoPass, 1);
  expect_parity(behav_dir(), "offline", "three_sentences.wav", Mode::kOffline, 3);
  expect_parity(behav_dir(), "offline", "three_sentences.wav", Mode::kOnline, 0);
  expect_parity(behav_dir(), "offline", "silence.wav", Mode::kTwoPass, 0);
}

TEST(SessionSplit, TinyModelsGiveIdenticalResults) {
  const std::string tiny = models_dir() + "/tiny";
  if (!have(tiny)) PARASERVE_MODELS_MISSING("models/tiny not generated (scripts/make-models.sh tiny)");
  expect_parity(tiny, "offline", "three_sentences.wav", Mode::kTwoPass, 1);  // random VAD weights: segments differ
  expect_parity(tiny, "offline-ts", "sample.wav", Mode::kTwoPass, 1);
}

TEST(SessionSplit, NonPcmFormatFinishesAtOnce) {
  if (!have(behav_dir())) PARASERVE_MODELS_MISSING("models/behav not generated (scripts/make-models.sh behav)");
  auto engine = load_engine(config_for(behav_dir(), "offline"));
  SessionOptions opt;
  opt.wav_format = "opus";
  StreamSession s(engine, opt);
  std::vector<int16_t> pcm(16000, 100);
  std::vector<StreamResult> out;
  EXPECT_EQ(s.feed_until_second_pass(pcm, out), pcm.size());
  EXPECT_FALSE(s.second_pass_pending());
  EXPECT_TRUE(s.begin_finish(out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].is_final);
  EXPECT_FALSE(out[0].error.empty());
}

}  // namespace
}  // namespace paraserve
