// StreamSession end to end with the behavioural models: the expected texts come from
// behaviour.json and the documented rules (docs/test-models.md, funasr-compat.md §2.5, §3.5),
// not from our own output.
#include <gtest/gtest.h>

#include "../models_required.h"

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <map>
#include <random>

#include "behav_util.h"
#include "common/error.h"
#include "pipeline/engine.h"
#include "pipeline/engine_impl.h"
#include "pipeline/session.h"

namespace paraserve {
namespace {

using testing::behav_dir;
using testing::behaviour;
using testing::read_wav_s16;

struct Event {
  std::string online, offline, error;
  bool is_final = false;
  std::vector<TokenStamp> stamps;
  bool operator==(const Event& o) const {
    return online == o.online && offline == o.offline && error == o.error && is_final == o.is_final &&
           stamps.size() == o.stamps.size() &&
           std::equal(stamps.begin(), stamps.end(), o.stamps.begin(),
                      [](const TokenStamp& a, const TokenStamp& b) { return a.begin_ms == b.begin_ms && a.end_ms == b.end_ms; });
  }
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{on='" << e.online << "' off='" << e.offline << "' final=" << e.is_final << " err='" << e.error
            << "' stamps=" << e.stamps.size() << "}";
}

EngineConfig behav_config(const std::string& offline = "offline") { return testing::behav_engine_config(offline); }

std::shared_ptr<const Engine> behav_engine(const std::string& offline = "offline") {
  static std::map<std::string, std::shared_ptr<const Engine>> cache;
  auto& e = cache[offline];
  if (!e) e = load_engine(behav_config(offline));
  return e;
}

// Feeds `pcm` in pieces whose sizes come from `next_size` (0 = everything at once), then finishes.
template <typename NextSize>
std::vector<Event> run(StreamSession& s, const std::vector<int16_t>& pcm, NextSize next_size) {
  std::vector<StreamResult> results;
  std::size_t pos = 0;
  while (pos < pcm.size()) {
    std::size_t n = next_size();
    if (n == 0) n = pcm.size();
    n = std::min(n, pcm.size() - pos);
    s.feed(std::span<const int16_t>(pcm.data() + pos, n), results);
    pos += n;
  }
  s.finish(results);
  std::vector<Event> events;
  for (auto& r : results) events.push_back({r.online_text, r.offline_text, r.error, r.is_final, r.timestamps});
  return events;
}

std::vector<Event> run_file_on(std::shared_ptr<const Engine> engine, const std::string& name, SessionOptions opt = {},
                               std::size_t piece = 960) {
  auto pcm = read_wav_s16(behav_dir() + "/audio/" + name);
  opt.sample_rate = pcm.sample_rate;
  StreamSession s(std::move(engine), opt);
  return run(s, pcm.samples, [piece] { return piece; });
}

std::vector<Event> run_file(const std::string& name, SessionOptions opt = {}, std::size_t piece = 960,
                            const std::string& offline = "offline") {
  return run_file_on(behav_engine(offline), name, opt, piece);
}

std::vector<std::string> offline_texts(const std::vector<Event>& ev) {
  std::vector<std::string> out;
  for (auto& e : ev)
    if (!e.offline.empty()) out.push_back(e.offline);
  return out;
}

std::string online_concat(const std::vector<Event>& ev) {
  std::string s;
  for (auto& e : ev) s += e.online;
  return s;
}

std::string without_spaces(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

// Expected 2pass-offline sentences of a file: each sentence's raw text punctuated with the
// session's realtime punctuation cache; 。 appended when the stream ended inside speech.
std::vector<std::string> expected_sentences(const std::string& name) {
  const auto& f = behaviour()["files"][name];
  std::vector<std::string> cache, out;
  const auto& sents = f["sentences"];
  for (std::size_t i = 0; i < sents.size(); ++i) {
    std::string t = testing::expected_realtime_punc(sents[i]["text"].get<std::string>(), cache);
    if (i + 1 == sents.size() && !f["trailing_silence"].get<bool>()) t += "。";
    out.push_back(t);
  }
  return out;
}

bool have_behav() { return std::filesystem::exists(behav_dir() + "/behaviour.json"); }

#define REQUIRE_BEHAV() \
  if (!have_behav()) PARASERVE_MODELS_MISSING("models/behav not generated (scripts/make-models.sh behav)")

TEST(SessionBehav, ExpectedPunctuationRuleSanity) {
  REQUIRE_BEHAV();  // punc_table comes from behaviour.json
  // Hand-derived from punc_table (好→，, 界→。, 吗→？, world→。) to check the test helper itself.
  std::vector<std::string> cache;
  EXPECT_EQ(testing::expected_realtime_punc("今天气很好", cache), "今天气很好");
  EXPECT_EQ(cache.size(), 5u);  // no 。/？: every word stays cached
  EXPECT_EQ(testing::expected_realtime_punc("hello world", cache), "，hello world");
  // world→。 is the last word, which the sentence-end search skips: everything stays cached,
  // so the next sentence starts with world's 。 (funasr-compat.md §3.5.1 consequences).
  EXPECT_EQ(cache.size(), 7u);
  EXPECT_EQ(testing::expected_realtime_punc("我们是server吗", cache), "。我们是server吗");
}

TEST(SessionBehav, TwoPassOneSentence) {
  REQUIRE_BEHAV();
  auto ev = run_file("one_sentence.wav");
  ASSERT_FALSE(ev.empty());
  EXPECT_TRUE(ev.back().is_final);
  EXPECT_EQ(std::count_if(ev.begin(), ev.end(), [](const Event& e) { return e.is_final; }), 1);
  EXPECT_EQ(offline_texts(ev), expected_sentences("one_sentence.wav"));
  EXPECT_EQ(online_concat(ev), behaviour()["files"]["one_sentence.wav"]["text"].get<std::string>());
  // Trailing silence: the sentence was closed mid-stream, the final result is empty.
  EXPECT_EQ(ev.back().offline, "");
  EXPECT_EQ(ev.back().online, "");
  // The offline sentence comes after every online partial of it.
  auto off = std::find_if(ev.begin(), ev.end(), [](const Event& e) { return !e.offline.empty(); });
  EXPECT_TRUE(std::none_of(off + 1, ev.end(), [](const Event& e) { return !e.online.empty(); }));
}

TEST(SessionBehav, TwoPassThreeSentencesWithPunctuationCache) {
  REQUIRE_BEHAV();
  auto ev = run_file("three_sentences.wav");
  EXPECT_EQ(offline_texts(ev), expected_sentences("three_sentences.wav"));
  EXPECT_EQ(without_spaces(online_concat(ev)),
            without_spaces(behaviour()["files"]["three_sentences.wav"]["text"].get<std::string>()));
}

TEST(SessionBehav, StreamEndingInsideSpeechGetsFinalSentenceWithFullStop) {
  REQUIRE_BEHAV();
  auto ev = run_file("no_trailing_silence.wav");
  ASSERT_FALSE(ev.empty());
  ASSERT_TRUE(ev.back().is_final);
  EXPECT_EQ(ev.back().offline, expected_sentences("no_trailing_silence.wav").back());
  EXPECT_EQ(online_concat(ev), "你好吗");
}

TEST(SessionBehav, SilenceGivesOnlyTheFinalResult) {
  REQUIRE_BEHAV();
  auto ev = run_file("silence.wav");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].is_final);
  EXPECT_EQ(ev[0].online, "");
  EXPECT_EQ(ev[0].offline, "");
}

TEST(SessionBehav, ModesDiffer) {
  REQUIRE_BEHAV();
  SessionOptions o;
  o.mode = Mode::kOnline;
  auto on = run_file("three_sentences.wav", o);
  EXPECT_TRUE(offline_texts(on).empty());
  EXPECT_EQ(without_spaces(online_concat(on)),
            without_spaces(behaviour()["files"]["three_sentences.wav"]["text"].get<std::string>()));
  o.mode = Mode::kOffline;
  auto off = run_file("three_sentences.wav", o);
  EXPECT_EQ(online_concat(off), "");
  EXPECT_EQ(offline_texts(off), expected_sentences("three_sentences.wav"));
  o.mode = Mode::kTwoPass;
  auto both = run_file("three_sentences.wav", o);
  EXPECT_EQ(offline_texts(both), offline_texts(off));
  EXPECT_EQ(online_concat(both), online_concat(on));
}

// Forwards to the real punctuation model and counts its runs.
struct CountingPunc final : PuncRunner {
  explicit CountingPunc(const PuncRunner& r) : inner(r) {}
  void run(std::span<const int32_t> ids, const float* mask, std::vector<float>& logits) const override {
    ++calls;
    inner.run(ids, mask, logits);
  }
  int num_classes() const override { return inner.num_classes(); }
  const PuncRunner& inner;
  mutable int calls = 0;  // one session on this thread
};

TEST(SessionBehav, OnlineModeNeverRunsThePunctuationModel) {
  REQUIRE_BEHAV();
  // A fresh engine (not yet shared) whose punctuator counts the model's runs.
  std::shared_ptr<Engine> engine = std::const_pointer_cast<Engine>(load_engine(behav_config()));
  CountingPunc counter(*engine->punc_runner);
  engine->punctuator = std::make_unique<Punctuator>(counter, engine->punc->vocab().tokens(), engine->punc->punc_list());

  SessionOptions o;
  o.mode = Mode::kOnline;
  for (const char* file : {"three_sentences.wav", "no_trailing_silence.wav"}) {
    const auto on = run_file_on(engine, file, o);
    EXPECT_EQ(counter.calls, 0) << file << ": online replies never carry punctuation";
    // The replies are those of the regular engine, and the online text is the file's text.
    EXPECT_EQ(on, run_file(file, o)) << file;
    EXPECT_FALSE(online_concat(on).empty()) << file;
    EXPECT_TRUE(offline_texts(on).empty()) << file;
  }
  // The counter does see the model where replies need it (2pass sentences).
  o.mode = Mode::kTwoPass;
  const auto both = run_file_on(engine, "three_sentences.wav", o);
  EXPECT_GT(counter.calls, 0);
  EXPECT_EQ(offline_texts(both), expected_sentences("three_sentences.wav"));
  engine->punctuator.reset();
}

TEST(SessionBehav, InvariantToPieceSizes) {
  REQUIRE_BEHAV();
  auto pcm = read_wav_s16(behav_dir() + "/audio/three_sentences.wav");
  auto engine = behav_engine();
  auto events_for = [&](auto next) {
    StreamSession s(engine, {});
    return run(s, pcm.samples, next);
  };
  auto ref = events_for([] { return std::size_t{800}; });
  ASSERT_GE(ref.size(), 4u);
  for (std::size_t piece : {160u, 960u, 9600u, 0u}) {
    EXPECT_EQ(events_for([piece] { return piece; }), ref) << "piece " << piece;
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> dist(1, 5000);
  EXPECT_EQ(events_for([&] { return dist(rng); }), ref) << "random pieces";
}

TEST(SessionBehav, ResetEquivalence) {
  REQUIRE_BEHAV();
  auto pcm = read_wav_s16(behav_dir() + "/audio/three_sentences.wav");
  StreamSession s(behav_engine(), {});
  auto first = run(s, pcm.samples, [] { return std::size_t{1920}; });
  auto second = run(s, pcm.samples, [] { return std::size_t{1920}; });
  EXPECT_EQ(first, second);
  auto pcm2 = read_wav_s16(behav_dir() + "/audio/no_trailing_silence.wav");
  StreamSession t(behav_engine(), {});
  auto a = run(t, pcm2.samples, [] { return std::size_t{1920}; });  // ends inside speech
  auto b = run(t, pcm.samples, [] { return std::size_t{1920}; });
  EXPECT_EQ(b, first);
}

TEST(SessionBehav, OtherSampleRates) {
  REQUIRE_BEHAV();
  auto expected = expected_sentences("one_sentence.wav");
  for (const char* f : {"one_sentence_8k.wav", "one_sentence_44k_stereo.wav"}) {
    auto ev = run_file(f);
    EXPECT_EQ(offline_texts(ev), expected) << f;
    EXPECT_EQ(online_concat(ev), "你好世界") << f;
  }
}

TEST(SessionBehav, WavFormatOtherThanPcmIsAnErrorOnTheFinalResult) {
  REQUIRE_BEHAV();
  SessionOptions o;
  o.wav_format = "mp3";
  auto ev = run_file("one_sentence.wav", o);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].is_final);
  EXPECT_EQ(ev[0].error, "ERROR. Real-time transcription service ONLY SUPPORT PCM stream.");
  o.wav_format = "PCM";
  EXPECT_EQ(offline_texts(run_file("one_sentence.wav", o)), expected_sentences("one_sentence.wav"));
}

TEST(SessionBehav, TimestampModelStampsEachWordNearItsOnset) {
  REQUIRE_BEHAV();
  auto ev = run_file("three_sentences.wav", {}, 960, "offline-ts");
  EXPECT_EQ(offline_texts(ev), expected_sentences("three_sentences.wav"));
  const auto& sents = behaviour()["files"]["three_sentences.wav"]["sentences"];
  std::vector<const Event*> offs;
  for (auto& e : ev)
    if (!e.offline.empty()) offs.push_back(&e);
  ASSERT_EQ(offs.size(), sents.size());
  for (std::size_t i = 0; i < offs.size(); ++i) {
    // One stamp per CJK char / English word (ser@@ ver -> one word "server").
    std::vector<double> onsets;
    const auto& toks = sents[i]["tokens"];
    const auto& on = sents[i]["word_onsets_s"];
    for (std::size_t k = 0; k < toks.size(); ++k) {
      std::string t = toks[k].get<std::string>();
      if (k > 0 && toks[k - 1].get<std::string>().ends_with("@@")) continue;  // continues a word
      onsets.push_back(on[k].get<double>() * 1000.0);
    }
    ASSERT_EQ(offs[i]->stamps.size(), onsets.size()) << "sentence " << i;
    for (std::size_t k = 0; k < onsets.size(); ++k) {
      // docs/test-models.md: a token starts within [-15, +45] ms of its word's onset.
      EXPECT_GE(offs[i]->stamps[k].begin_ms, onsets[k] - 15 - 1) << i << "/" << k;
      EXPECT_LE(offs[i]->stamps[k].begin_ms, onsets[k] + 45 + 1) << i << "/" << k;
      EXPECT_LT(offs[i]->stamps[k].begin_ms, offs[i]->stamps[k].end_ms);
    }
  }
}

// Vector2StringV2 (funasr-compat.md §5.1) for the behavioural vocabulary: CJK glued, English
// words spaced when either is longer than one letter, "x@@" joins the next token, or ends the
// word with a trailing space when it is the last token or a CJK token follows.
std::string v2_text(const std::vector<std::string>& toks) {
  auto cjk = [](const std::string& t) { return t.size() == 3 && static_cast<unsigned char>(t[0]) >= 0xE4; };
  std::string out, word, prev_en;
  bool prev_is_en = false;
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const std::string& t = toks[i];
    if (t.size() > 2 && t.ends_with("@@")) {
      word += t.substr(0, t.size() - 2);
      if (i + 1 == toks.size() || cjk(toks[i + 1])) {
        out += word + " ";
        word.clear();
        prev_is_en = false;
      }
      continue;
    }
    if (cjk(t)) {
      out += t;
      prev_is_en = false;
      continue;
    }
    std::string w = word + t;
    word.clear();
    if (prev_is_en && (prev_en.size() > 1 || w.size() > 1)) out += " ";
    out += w;
    prev_en = w;
    prev_is_en = true;
  }
  return out;
}

// Exact online partials of 2pass. Chunk k of a segment starting at VAD start s covers the
// segment's LFR frames [b*k - c, b*k - c + b) (the overlap cache starts as a+c zero frames,
// §3.3.4) and is queued in the first 50 ms piece with speech_end >= s + 600*(k+1) (§2.5).
// A word fires in the LFR frame t = ceil((onset - s)/60) whose 25 ms window first lies in
// its burst (docs/test-models.md: frame t's centre window starts 60*t ms into the segment).
// Tokens of chunks not yet queued when the VAD end arrives come out in that piece.
TEST(SessionBehav, ExactOnlinePartials) {
  REQUIRE_BEHAV();
  for (const char* name : {"one_sentence.wav", "three_sentences.wav"}) {
    auto pcm = read_wav_s16(behav_dir() + "/audio/" + name);
    StreamSession s(behav_engine(), {});
    struct Got {
      int64_t piece_end_ms;
      StreamResult r;
    };
    std::vector<Got> got;
    std::vector<StreamResult> res;
    for (std::size_t p = 0; p < pcm.samples.size(); p += 800) {
      res.clear();
      s.feed(std::span<const int16_t>(pcm.samples.data() + p, std::min<std::size_t>(800, pcm.samples.size() - p)), res);
      for (auto& r : res) got.push_back({static_cast<int64_t>((p + 800) / 16), r});
    }
    // Expected (piece end ms, delta) from behaviour.json; the VAD's start/end times are the
    // VAD's (tested in test_vad_*), read from the results.
    std::vector<std::pair<int64_t, std::string>> expected, actual;
    const auto& sents = behaviour()["files"][name]["sentences"];
    std::size_t gi = 0;
    for (const auto& sent : sents) {
      while (gi < got.size() && got[gi].r.online_text.empty()) ++gi;
      ASSERT_LT(gi, got.size());
      const int64_t vs = got[gi].r.vad_start_ms;
      std::size_t end_i = gi;
      while (end_i < got.size() && !got[end_i].r.has_offline) ++end_i;
      ASSERT_LT(end_i, got.size());
      const int64_t end_piece = got[end_i].piece_end_ms;
      std::map<int64_t, std::vector<std::string>> by_time;
      for (std::size_t k = 0; k < sent["tokens"].size(); ++k) {
        const double rel = sent["word_onsets_s"][k].get<double>() * 1000.0 - static_cast<double>(vs);
        const int t = static_cast<int>(std::ceil(rel / 60.0));
        // The previous frame's window [60(t-1), 60(t-1)+25) must miss the burst for t to be exact.
        ASSERT_GT(rel - 60.0 * (t - 1), 25.0) << name << ": onset too close to a frame boundary";
        const int chunk = (t + 5) / 10;  // [5,10,5]
        int64_t q = vs + 600 * (chunk + 1);
        q = (q + 49) / 50 * 50;
        by_time[std::min(q, end_piece)].push_back(sent["tokens"][k].get<std::string>());
      }
      for (auto& [t, toks] : by_time) expected.push_back({t, v2_text(toks)});
      gi = end_i + 1;
    }
    for (auto& g : got)
      if (!g.r.online_text.empty()) actual.push_back({g.piece_end_ms, g.r.online_text});
    EXPECT_EQ(actual, expected) << name;
  }
}

// Other chunk sizes: every word's onset frame lies in exactly one chunk's current region, so
// the online text is the same; the offline sentences do not depend on chunking at all.
TEST(SessionBehav, OtherChunkSizes) {
  REQUIRE_BEHAV();
  const std::string text = behaviour()["files"]["three_sentences.wav"]["text"].get<std::string>();
  for (ChunkSize c : {ChunkSize{5, 5, 5}, ChunkSize{8, 16, 4}}) {
    SessionOptions o;
    o.chunk = c;
    auto ev = run_file("three_sentences.wav", o);
    EXPECT_EQ(without_spaces(online_concat(ev)), without_spaces(text)) << c.left << "," << c.chunk << "," << c.right;
    EXPECT_EQ(offline_texts(ev), expected_sentences("three_sentences.wav"));
  }
}

// [0,10,5] (FunASR's funasr_client_api.py) has no left context: the first input frame of a
// chunk is in its current region, and the behavioural encoder counts a voiced frame 0 as an
// onset (docs/test-models.md), so a word running across a chunk boundary fires again. The
// online text therefore contains every word, in order, possibly repeated; offline is exact.
TEST(SessionBehav, ZeroLeftContextChunk) {
  REQUIRE_BEHAV();
  SessionOptions o;
  o.chunk = ChunkSize{0, 10, 5};
  auto ev = run_file("three_sentences.wav", o);
  EXPECT_EQ(offline_texts(ev), expected_sentences("three_sentences.wav"));
  std::string online = without_spaces(online_concat(ev));
  std::size_t pos = 0;
  for (const auto& sent : behaviour()["files"]["three_sentences.wav"]["sentences"])
    for (const auto& tok : sent["tokens"]) {
      std::string t = tok.get<std::string>();
      if (t.ends_with("@@")) t.resize(t.size() - 2);
      pos = online.find(t, pos);
      ASSERT_NE(pos, std::string::npos) << t << " missing in order from " << online;
      pos += t.size();
    }
}

TEST(SessionBehav, EngineErrorsNameWhatIsMissing) {
  REQUIRE_BEHAV();
  EngineConfig c;
  c.offline_model_dir = behav_dir() + "/offline";
  c.quantize = "false";
  auto offline_only = load_engine(c);  // enough for transcription (own am.mvn/tokens.json)
  try {
    StreamSession s(offline_only, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--vad-dir"), std::string::npos) << e.what();
  }
  c.vad_dir = "/nonexistent/vad";
  try {
    load_engine(c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/vad"), std::string::npos) << e.what();
  }
  c.vad_dir.clear();
  c.quantize = "true";  // behav ships model_quant.onnx too; a missing file names itself
  c.offline_model_dir = behav_dir() + "/punc";  // a punctuation model is not a Paraformer
  EXPECT_THROW(load_engine(c), Error);
}

// SenseVoiceSmall as the second pass (docs/sensevoice.md): each offline result is the segment's
// SenseVoiceSmall text as FunASR builds it (tags kept, no punctuation model, no final 。), with
// the session's own svs_lang / svs_itn; behaviour.json holds the texts per sentence.
std::vector<std::string> sensevoice_sentences(const std::string& name, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& s : behaviour()["files"][name]["sentences"]) out.push_back(s["sensevoice"][key].get<std::string>());
  return out;
}

TEST(SessionBehav, SenseVoiceSecondPassPerSessionOptions) {
  REQUIRE_BEHAV();
  if (!std::filesystem::exists(behav_dir() + "/SenseVoiceSmall/model.onnx"))
    PARASERVE_MODELS_MISSING("models/behav/SenseVoiceSmall not generated (scripts/make-models.sh behav)");
  auto engine = behav_engine("SenseVoiceSmall");
  SessionOptions en_woitn;
  en_woitn.svs_lang = "en";
  en_woitn.svs_itn = false;
  // Two sessions with different options on one engine, interleaved file by file.
  EXPECT_EQ(offline_texts(run_file_on(engine, "three_sentences.wav")),
            sensevoice_sentences("three_sentences.wav", "auto/withitn"));
  EXPECT_EQ(offline_texts(run_file_on(engine, "three_sentences.wav", en_woitn)),
            sensevoice_sentences("three_sentences.wav", "en/woitn"));
  EXPECT_EQ(offline_texts(run_file_on(engine, "one_sentence_8k.wav")),
            sensevoice_sentences("one_sentence_8k.wav", "auto/withitn"));
  // The offline mode runs the same second pass.
  SessionOptions offline;
  offline.mode = Mode::kOffline;
  offline.svs_lang = "zh";
  EXPECT_EQ(offline_texts(run_file_on(engine, "sample.wav", offline)), sensevoice_sentences("sample.wav", "zh/withitn"));
}

TEST(SessionBehav, BadOptionsAreRejected) {
  REQUIRE_BEHAV();
  SessionOptions o;
  o.chunk.chunk = 0;
  EXPECT_THROW(StreamSession(behav_engine(), o), Error);
  o = {};
  o.sample_rate = 0;
  EXPECT_THROW(StreamSession(behav_engine(), o), Error);
}

}  // namespace
}  // namespace paraserve
