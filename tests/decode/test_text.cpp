// ids -> text (FunASR Vocab::Vector2StringV2, "zh-cn") and greedy argmax (FindMax).
// Expected strings are derived by hand from vocab.cpp:164-278.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "decode/text.h"

namespace paraserve {
namespace {

const std::vector<std::string> kVocab = {
    "<blank>", "<s>", "</s>", "你", "好",  // 0..4
    "he@@",    "llo", "world", "a",  "b",  // 5..9
    "<unk>",   "lo@@", "x@@",  "I",  "é",  // 10..14
};

std::string T(std::vector<int> ids) { return ids_to_text(ids, kVocab); }

TEST(IdsToText, EmptyAndSpecials) {
  EXPECT_EQ(T({}), "");
  EXPECT_EQ(T({1, 2, 10}), "");  // <s>, </s>, <unk> are skipped
  EXPECT_EQ(T({1, 3, 4, 2}), "你好");
}

TEST(IdsToText, BlankIsNotFiltered) {
  // <blank> is an "English" word: it is output, and a CJK token after it is glued.
  EXPECT_EQ(T({0, 3}), "<blank>你");
  // Two long "English" words get a space.
  EXPECT_EQ(T({0, 0}), "<blank> <blank>");
}

TEST(IdsToText, EnglishSpacing) {
  EXPECT_EQ(T({5, 6, 7}), "hello world");  // previous word longer than 1 byte -> space
  EXPECT_EQ(T({8, 9}), "ab");              // single letters after single letters are glued
  EXPECT_EQ(T({8, 7}), "a world");         // current word longer than 1 byte -> space
  EXPECT_EQ(T({7, 8}), "world a");         // previous word longer than 1 byte -> space
  EXPECT_EQ(T({3, 8, 9, 4}), "你ab好");    // no space next to CJK
  EXPECT_EQ(T({4, 13, 8}), "好Ia");
  // "é" is 2 bytes, so it counts as a word longer than 1.
  EXPECT_EQ(T({8, 14}), "a é");
}

TEST(IdsToText, BpeJoining) {
  EXPECT_EQ(T({5, 6}), "hello");
  EXPECT_EQ(T({12, 5, 6}), "xhello");  // several @@ pieces accumulate
  // Skipped tokens inside a word do not break it.
  EXPECT_EQ(T({5, 10, 6}), "hello");
}

TEST(IdsToText, BpeBadCases) {
  // "@@" token before a CJK token: the word ends there with a trailing space.
  EXPECT_EQ(T({11, 3}), "lo 你");
  // ...also when a word was being combined: "he" + "lo ".
  EXPECT_EQ(T({5, 11, 3}), "helo 你");
  // "@@" token as the very last id: trailing space.
  EXPECT_EQ(T({3, 11}), "你lo ");
  // "lo " is 3 bytes long, so the next English word gets a space.
  EXPECT_EQ(T({11, 3, 8}), "lo 你a");
  EXPECT_EQ(T({8, 11, 3}), "a lo 你");
  // "@@" token followed by </s>: neither last nor before CJK, so it starts a word that is
  // never finished and is dropped.
  EXPECT_EQ(T({3, 5, 2}), "你");
}

TEST(IdsToText, OutOfRangeIdsAreSkipped) { EXPECT_EQ(T({-1, 99, 3}), "你"); }

TEST(IdsToText, AppendKeepsExistingText) {
  std::string out = "前";
  std::vector<int> ids = {3};
  append_ids_to_text(ids, kVocab, out);
  EXPECT_EQ(out, "前你");
}

TEST(WalkTokenWords, SpacingRuleIsAParameter) {
  const std::vector<int> ids = {8, 9, 3, 5, 6, 8, 11, 3};
  std::string vocab_text, always;
  std::vector<TokenWord> w1, w2;
  walk_token_words(ids, kVocab, WordSpacing::kVocabText, vocab_text, &w1);
  walk_token_words(ids, kVocab, WordSpacing::kAlways, always, &w2);
  EXPECT_EQ(vocab_text, "ab你hello a lo 你");
  EXPECT_EQ(vocab_text, T(ids));
  EXPECT_EQ(always, "a b你hello a lo 你");
  // Same words either way: a, b, 你, hello (ids 3..4), a, "lo ", 你.
  ASSERT_EQ(w1.size(), 7u);
  ASSERT_EQ(w2.size(), 7u);
  const std::vector<std::vector<size_t>> expect = {{0, 0, 0}, {1, 1, 0}, {2, 2, 1}, {3, 4, 0},
                                                   {5, 5, 0}, {6, 6, 0}, {7, 7, 1}};
  for (size_t i = 0; i < expect.size(); ++i) {
    EXPECT_EQ((std::vector<size_t>{w1[i].first, w1[i].last, w1[i].cjk ? 1u : 0u}), expect[i]) << i;
    EXPECT_EQ(w2[i].first, w1[i].first);
    EXPECT_EQ(w2[i].last, w1[i].last);
  }
}

TEST(IsCjkToken, Range) {
  EXPECT_TRUE(is_cjk_token("一"));   // U+4E00
  EXPECT_TRUE(is_cjk_token("\xE9\xBF\xBF"));  // U+9FFF
  EXPECT_FALSE(is_cjk_token("。"));  // U+3002
  EXPECT_FALSE(is_cjk_token("㐀"));  // U+3400: not in FunASR's vocab range
  EXPECT_FALSE(is_cjk_token("abc"));
  EXPECT_FALSE(is_cjk_token("你好"));
}

TEST(GreedyIds, FirstMaximumWins) {
  const float nan = std::nanf("");
  const std::vector<float> logits = {
      1, 3, 3, 2,                  // tie: index 1
      -5, -4, -9, -4,              // tie: index 1
      nan, 2, nan, 1,              // NaN never compares greater: index 1
      nan, nan, nan, nan,          // nothing greater than -inf: -1 (FindMax)
      -INFINITY, -INFINITY, 0, 0,  // index 2
  };
  std::vector<int> ids = {42};
  greedy_ids(logits.data(), 5, 4, ids);
  EXPECT_EQ(ids, (std::vector<int>{1, 1, 1, -1, 2}));
  greedy_ids(logits.data(), 0, 4, ids);
  EXPECT_TRUE(ids.empty());
}

}  // namespace
}  // namespace paraserve
