// CT-Transformer punctuation algorithms (FunASR ct-transformer-online.cpp AddPunc,
// ct-transformer.cpp AddPunc, tokenizer.cpp) with a table-driven fake model.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "decode/punctuator.h"

namespace paraserve {
namespace {

enum Cls { kUnk = 0, kNone = 1, kComma = 2, kPeriod = 3, kQuestion = 4, kDun = 5 };
const std::vector<std::string> kPuncList = {"<unk>", "_", "，", "。", "？", "、"};

// Logits: one-hot on the class given for the token id (default "_").
struct TableRunner : PuncRunner {
  std::map<int32_t, int> cls;
  mutable std::vector<std::vector<int32_t>> calls;
  mutable std::vector<std::vector<float>> masks;
  void run(std::span<const int32_t> ids, const float* mask,
           std::vector<float>& logits) const override {
    calls.emplace_back(ids.begin(), ids.end());
    const size_t L = ids.size();
    masks.emplace_back(mask ? std::vector<float>(mask, mask + L * L) : std::vector<float>{});
    logits.assign(L * 6, 0.0f);
    for (size_t i = 0; i < L; ++i) {
      const auto it = cls.find(ids[i]);
      logits[i * 6 + static_cast<size_t>(it == cls.end() ? kNone : it->second)] = 1.0f;
    }
  }
  int num_classes() const override { return 6; }
};

// Vocabulary: specials, a few words, then 300 distinct CJK characters c0.. (U+4E00 + k).
std::vector<std::string> make_vocab() {
  std::vector<std::string> v = {"<blank>", "<s>", "</s>", "hello", "world", "ok", "fine", "我", "love", "你"};
  for (int k = 0; k < 300; ++k) {
    const int cp = 0x4E00 + k;
    std::string s;
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
    v.push_back(s);
  }
  v.push_back("<unk>");
  return v;
}
const std::vector<std::string> kVocab = make_vocab();
constexpr int kC0 = 10;  // id of c0
const int kUnkId = static_cast<int>(kVocab.size()) - 1;
std::string c(int k) { return kVocab[static_cast<size_t>(kC0 + k)]; }
std::string cs(int from, int to) {  // c(from) .. c(to-1)
  std::string s;
  for (int k = from; k < to; ++k) s += c(k);
  return s;
}

TEST(PuncTokenizer, SplitsAndLooksUp) {
  PuncTokenizer tok(kVocab);
  std::vector<std::string> words;
  std::vector<int32_t> ids;
  tok.tokenize("Hello " + c(0) + c(1) + "world  OK" + c(2) + " zz", words, ids);
  EXPECT_EQ(words, (std::vector<std::string>{"Hello", c(0), c(1), "world", "OK", c(2), "zz"}));
  // ASCII is lower-cased for the lookup only; unknown -> <unk>.
  EXPECT_EQ(ids, (std::vector<int32_t>{3, kC0, kC0 + 1, 4, 5, kC0 + 2, kUnkId}));
  // A truncated UTF-8 character stays one (short) token.
  words.clear();
  ids.clear();
  tok.tokenize("\xE4\xB8", words, ids);
  EXPECT_EQ(words, (std::vector<std::string>{"\xE4\xB8"}));
  EXPECT_EQ(ids, (std::vector<int32_t>{kUnkId}));
  // Without <unk> in the vocabulary, unknown words map to 0 (FunASR's map operator[]).
  const std::vector<std::string> small = {"a", "b"};
  EXPECT_EQ(PuncTokenizer(small).lookup("zz"), 0);
  EXPECT_EQ(PuncTokenizer(small).lookup("B"), 1);
}

TEST(PuncMask, CachedWordsDoNotSeeNewOnes) {
  std::vector<float> m;
  punc_vad_mask(5, 2, m);
  // Rows [0, 1) x columns [2, 5) are 0.
  const std::vector<float> expect = {1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(m, expect);
  punc_vad_mask(3, 0, m);
  EXPECT_EQ(m, std::vector<float>(9, 1.0f));
  punc_vad_mask(3, 3, m);
  EXPECT_EQ(m, std::vector<float>(9, 1.0f));
  punc_vad_mask(3, 1, m);  // rows [0, 0): nothing masked
  EXPECT_EQ(m, std::vector<float>(9, 1.0f));
}

TEST(Punctuator, RejectsBadConfig) {
  TableRunner r;
  EXPECT_THROW(Punctuator(r, kVocab, {"<unk>", "_", "，", "。", "？"}), Error);
  struct Wide : TableRunner {
    int num_classes() const override { return 9; }
  } wide;
  EXPECT_THROW(Punctuator(wide, kVocab, kPuncList), Error);
}

TEST(PunctuatorRealtime, CacheCarriesAcrossCalls) {
  TableRunner r;
  r.cls = {{kC0 + 1, kComma}, {kC0 + 3, kPeriod}, {kC0 + 5, kPeriod}};
  Punctuator p(r, kVocab, kPuncList);
  std::vector<std::string> cache;
  // c0 c1， c2 c3。 -> the trailing 。 is removed. The cache search starts at the
  // second-to-last word, so the final 。 does not end the cache: all 4 words are cached.
  EXPECT_EQ(p.punctuate_realtime(cs(0, 4), cache), c(0) + c(1) + "，" + c(2) + c(3));
  EXPECT_EQ(cache, (std::vector<std::string>{c(0), c(1), c(2), c(3)}));
  ASSERT_EQ(r.masks.size(), 1u);
  EXPECT_EQ(r.masks[0], std::vector<float>(16, 1.0f));

  // Next sentence: the 4 cached words are re-run but not output, except the punctuation of
  // the last one (the 。 removed above).
  EXPECT_EQ(p.punctuate_realtime(cs(4, 6), cache), "。" + c(4) + c(5));
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[1], (std::vector<int32_t>{kC0, kC0 + 1, kC0 + 2, kC0 + 3, kC0 + 4, kC0 + 5}));
  // Mask with cache_len 4: rows 0..2 x columns 4..5 are 0.
  std::vector<float> m;
  punc_vad_mask(6, 4, m);
  EXPECT_EQ(r.masks[1], m);
  // c3 (index 3) has 。, so the cache is the words after it.
  EXPECT_EQ(cache, (std::vector<std::string>{c(4), c(5)}));
}

TEST(PunctuatorRealtime, EnglishWordsAndCache) {
  TableRunner r;
  Punctuator p(r, kVocab, kPuncList);
  std::vector<std::string> cache;
  EXPECT_EQ(p.punctuate_realtime("hello World ok", cache), "hello World ok");
  EXPECT_EQ(r.calls[0], (std::vector<int32_t>{3, 4, 5}));
  // Cached words keep the space added between ASCII words.
  EXPECT_EQ(cache, (std::vector<std::string>{"hello ", "World ", "ok"}));
  // Cache ends in ASCII and text starts with ASCII: a space joins them.
  EXPECT_EQ(p.punctuate_realtime("fine", cache), "fine");
  EXPECT_EQ(r.calls[1], (std::vector<int32_t>{3, 4, 5, 6}));
  // No space between ASCII and non-ASCII words.
  cache.clear();
  EXPECT_EQ(p.punctuate_realtime("我love你", cache), "我love你");
}

TEST(PunctuatorRealtime, EmptyTextAndUnkClass) {
  TableRunner r;
  r.cls = {{kC0, kDun}};  // 、 is never chosen: argmax over classes 0..4 gives <unk> (all 0)
  Punctuator p(r, kVocab, kPuncList);
  std::vector<std::string> cache;
  EXPECT_EQ(p.punctuate_realtime("", cache), "");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_TRUE(cache.empty());
  // "<unk>" is output literally, except as trailing punctuation (it is in punc_list).
  EXPECT_EQ(p.punctuate_realtime(c(0) + c(1), cache), c(0) + "<unk>" + c(1));
  cache.clear();
  EXPECT_EQ(p.punctuate_realtime(c(1) + c(0), cache), c(1) + c(0));
}

TEST(PunctuatorWindows, CutAfterLastSentenceEnd) {
  TableRunner r;
  r.cls = {{kC0 + 10, kPeriod}, {kC0 + 30, kQuestion}};
  Punctuator p(r, kVocab, kPuncList);
  // 45 tokens, 3 windows. Window 1 = c0..c19, cut after c10 (its last 。/？); window 2 =
  // c11..c39 (29 tokens), cut after c30; window 3 = c31..c44.
  const std::string out = p.punctuate_offline(cs(0, 45));
  EXPECT_EQ(out, cs(0, 11) + "。" + cs(11, 31) + "？" + cs(31, 45) + "。");
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[0].size(), 20u);
  EXPECT_EQ(r.calls[1].size(), 29u);
  EXPECT_EQ(r.calls[1].front(), kC0 + 11);
  EXPECT_EQ(r.calls[2].size(), 14u);
  EXPECT_EQ(r.calls[2].front(), kC0 + 31);
  EXPECT_TRUE(r.masks[0].empty());  // offline: no mask

  TableRunner r2;
  r2.cls = r.cls;
  Punctuator p2(r2, kVocab, kPuncList);
  std::vector<std::string> cache;
  EXPECT_EQ(p2.punctuate_realtime(cs(0, 45), cache),
            cs(0, 11) + "。" + cs(11, 31) + "？" + cs(31, 45));
  ASSERT_EQ(cache.size(), 14u);
  EXPECT_EQ(cache.front(), c(31));
}

TEST(PunctuatorWindows, EndOfWindowPeriodDoesNotCut) {
  TableRunner r;
  r.cls = {{kC0 + 19, kPeriod}, {kC0, kPeriod}};
  Punctuator p(r, kVocab, kPuncList);
  // The search covers indices [1, L-2]: a 。 on the window's first or last token does not
  // cut, so the whole first window is carried into the second (25 tokens).
  EXPECT_EQ(p.punctuate_offline(cs(0, 25)), c(0) + "。" + cs(1, 20) + "。" + cs(20, 25) + "。");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[1].size(), 25u);
}

TEST(PunctuatorWindows, LongRunEndsAtLastComma) {
  TableRunner r;
  r.cls = {{kC0 + 50, kComma}, {kC0 + 100, kComma}};
  Punctuator p(r, kVocab, kPuncList);
  // 230 tokens, no sentence end: windows grow by 20. At 200 tokens nothing happens (the
  // rule needs > 200); at 220 the last comma (c100) becomes 。 and the text is cut there.
  const std::string out = p.punctuate_offline(cs(0, 230));
  EXPECT_EQ(out, cs(0, 51) + "，" + cs(51, 101) + "。" + cs(101, 230) + "。");
  ASSERT_EQ(r.calls.size(), 12u);
  EXPECT_EQ(r.calls[9].size(), 200u);
  EXPECT_EQ(r.calls[10].size(), 220u);
  EXPECT_EQ(r.calls[11].size(), 129u);
  EXPECT_EQ(r.calls[11].front(), kC0 + 101);
}

TEST(PunctuatorRealtime, CacheIsBoundedWithoutSentenceEnds) {
  // A model that never ends a sentence: FunASR would cache every word and re-run them all on
  // each call. The cache stays at kMaxCacheWords and the windows stay bounded; the output
  // is unaffected (each call outputs exactly its new words).
  TableRunner r;
  Punctuator p(r, kVocab, kPuncList);
  std::vector<std::string> cache;
  for (int call = 0; call < 100; ++call) {
    const int from = (call * 20) % 280;
    const std::string text = cs(from, from + 20);
    r.calls.clear();
    r.masks.clear();
    ASSERT_EQ(p.punctuate_realtime(text, cache), text) << call;
    ASSERT_LE(cache.size(), Punctuator::kMaxCacheWords) << call;
    ASSERT_EQ(cache.size(), std::min<size_t>(Punctuator::kMaxCacheWords, 20u * static_cast<size_t>(call + 1)));
    EXPECT_EQ(cache.back(), c(from + 19));
    for (const auto& ids : r.calls) {
      ASSERT_LE(ids.size(), Punctuator::kMaxCacheWords + 20) << call;
    }
  }
  // The cache holds the newest 200 words, in order: the texts of calls 90..99.
  EXPECT_EQ(cache.front(), c((90 * 20) % 280));
}

TEST(PunctuatorRealtime, LongCacheIsCutAfterItsLastComma) {
  TableRunner r;
  r.cls = {{kC0 + 30, kComma}, {kC0 + 60, kComma}, {kC0 + 270, kComma}};
  Punctuator p(r, kVocab, kPuncList);
  std::vector<std::string> cache;
  // c0..c99, no sentence end: all cached, as FunASR.
  EXPECT_EQ(p.punctuate_realtime(cs(0, 100), cache), cs(0, 31) + "，" + cs(31, 61) + "，" + cs(61, 100));
  ASSERT_EQ(cache.size(), 100u);
  // + c100..c249: a window of 220 words is cut at its last comma (c60, FunASR's
  // CACHE_POP_TRIGGER_LIMIT rule), so the cache is c61..c249 (189 words), as FunASR.
  EXPECT_EQ(p.punctuate_realtime(cs(100, 250), cache), cs(100, 250));
  ASSERT_EQ(cache.size(), 189u);
  EXPECT_EQ(cache.front(), c(61));
  // + c250..c280: 220 words, all in the last window, which FunASR never cuts, so it would
  // cache all 220. The bound cuts after the last comma (c270): 10 words stay.
  EXPECT_EQ(p.punctuate_realtime(cs(250, 281), cache), cs(250, 271) + "，" + cs(271, 281));
  ASSERT_EQ(cache.size(), 10u);
  EXPECT_EQ(cache.front(), c(271));

  // No comma among the newest words: exactly the newest kMaxCacheWords stay.
  TableRunner r2;
  r2.cls = {{kC0 + 10, kComma}};
  Punctuator p2(r2, kVocab, kPuncList);
  cache.clear();
  // FunASR's window rule turns the comma on c10 into 。 (the run exceeds 200 words); the
  // 239 words after it are more than the bound and hold no comma.
  EXPECT_EQ(p2.punctuate_realtime(cs(0, 250), cache), cs(0, 11) + "。" + cs(11, 250));
  ASSERT_EQ(cache.size(), Punctuator::kMaxCacheWords);
  EXPECT_EQ(cache.front(), c(50));
  EXPECT_EQ(cache.back(), c(249));
}

TEST(PunctuatorOffline, FinalPunctuationRules) {
  TableRunner r;
  r.cls = {{kC0 + 1, kComma}, {kC0 + 2, kQuestion}, {kC0 + 3, kDun}};
  Punctuator p(r, kVocab, kPuncList);
  EXPECT_EQ(p.punctuate_offline(""), "");
  EXPECT_EQ(p.punctuate_offline(cs(0, 2)), cs(0, 2) + "。");   // final ， -> 。
  EXPECT_EQ(p.punctuate_offline(cs(0, 3)), cs(0, 2) + "，" + c(2) + "？");  // ？ kept
  EXPECT_EQ(p.punctuate_offline(c(0)), c(0) + "。");           // 。 added
  // Class 5 cannot win: <unk> (index 0) is emitted literally, and 。 is appended.
  EXPECT_EQ(p.punctuate_offline(c(3)), c(3) + "<unk>。");
  // A word "、" at the end is replaced by 。 (string comparison with punc_list[5]).
  EXPECT_EQ(p.punctuate_offline(c(0) + "、"), c(0) + "。");
  // Spaces between ASCII words only.
  EXPECT_EQ(p.punctuate_offline("hello world 我 ok"), "hello world我ok。");
}

TEST(Tpass, FinalPeriodWhenInputFinished) {
  std::string s = "你好";
  finish_tpass_sentence(s, false);
  EXPECT_EQ(s, "你好");
  finish_tpass_sentence(s, true);
  EXPECT_EQ(s, "你好。");
}

}  // namespace
}  // namespace paraserve
