// stamp_sents (FunASR TimestampSentence + TimestampSplitChiEngCharacters, util.cpp:257-366,
// 569-637) and the timestamp string.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "decode/stamp_sents.h"

namespace paraserve {
namespace {

std::vector<std::string> units(const std::string& s) {
  std::vector<std::string> u = {"stale"};
  split_stamp_units(s, u);
  return u;
}

using U = std::vector<std::string>;

std::vector<TokenStamp> stamps(int n) {
  std::vector<TokenStamp> s;
  for (int i = 0; i < n; ++i) s.push_back({100 * i, 100 * i + 50});
  return s;
}

TEST(StampUnits, Splitting) {
  EXPECT_EQ(units(""), U{});
  EXPECT_EQ(units("你好，世界。"), (U{"你", "好", "，", "世", "界", "。"}));
  EXPECT_EQ(units("hello world, ok?"), (U{"hello", "world", ",", "ok", "?"}));
  EXPECT_EQ(units("abc123"), (U{"abc", "1", "2", "3"}));        // digits are single units
  EXPECT_EQ(units("it's a-b & c"), (U{"it's", "a-b", "&", "c"}));  // & ' - stay in words
  EXPECT_EQ(units("x.y"), (U{"x", ".", "y"}));
  EXPECT_EQ(units("㐀好"), (U{"㐀", "好"}));  // extension A counts as CJK here
  // U+FF0C (，) is outside FunASR's punctuation ranges: it joins an adjacent word.
  EXPECT_EQ(units("hello，world"), (U{"hello，world"}));
  EXPECT_EQ(units("你，好"), (U{"你", "，", "好"}));
  // 4-byte UTF-8 (emoji) is dropped byte by byte; the word is not split.
  EXPECT_EQ(units("a\xF0\x9F\x98\x80" "b"), (U{"ab"}));
  EXPECT_EQ(units("  a\tb  "), (U{"a\tb"}));  // only ' ' separates
}

TEST(StampUnits, BytewisePunctuation) {
  EXPECT_TRUE(is_stamp_punctuation("，"));
  EXPECT_TRUE(is_stamp_punctuation("。"));
  EXPECT_TRUE(is_stamp_punctuation("？"));
  EXPECT_TRUE(is_stamp_punctuation("、"));
  EXPECT_TRUE(is_stamp_punctuation(","));
  EXPECT_TRUE(is_stamp_punctuation("?"));
  EXPECT_TRUE(is_stamp_punctuation("！"));  // EF BC 81: every byte occurs in the set
  EXPECT_FALSE(is_stamp_punctuation("."));
  EXPECT_FALSE(is_stamp_punctuation("；"));  // EF BC 9B
  EXPECT_FALSE(is_stamp_punctuation("a"));
  EXPECT_FALSE(is_stamp_punctuation("你"));
}

TEST(StampSents, TwoSentences) {
  const auto s = build_stamp_sents("你好，世界。", stamps(4));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].text_seg, "你 好");
  EXPECT_EQ(s[0].punc, "，");
  EXPECT_EQ(s[0].start, 0);
  EXPECT_EQ(s[0].end, 150);
  ASSERT_EQ(s[0].ts_list.size(), 2u);
  EXPECT_EQ(s[1].text_seg, "世 界");
  EXPECT_EQ(s[1].punc, "。");
  EXPECT_EQ(s[1].start, 200);
  EXPECT_EQ(s[1].end, 350);
}

TEST(StampSents, SentinelsForEmptySentences) {
  // Leading punctuation: nothing before it, start/end still -1. Consecutive punctuation
  // after a sentence: start/end 0 with an empty ts_list.
  const auto s = build_stamp_sents("，你好。。", stamps(2));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].text_seg, "");
  EXPECT_EQ(s[0].punc, "，");
  EXPECT_EQ(s[0].start, -1);
  EXPECT_EQ(s[0].end, -1);
  EXPECT_TRUE(s[0].ts_list.empty());
  EXPECT_EQ(s[1].text_seg, "你 好");
  EXPECT_EQ(s[1].start, 0);
  EXPECT_EQ(s[1].end, 150);
  EXPECT_EQ(s[2].punc, "。");
  EXPECT_EQ(s[2].start, 0);
  EXPECT_EQ(s[2].end, 0);
  EXPECT_TRUE(s[2].ts_list.empty());
}

TEST(StampSents, TrailingTextWithoutPunctuation) {
  const auto s = build_stamp_sents("hello world, ok", stamps(3));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].text_seg, "hello world");
  EXPECT_EQ(s[0].punc, ",");
  EXPECT_EQ(s[1].text_seg, "ok");
  EXPECT_EQ(s[1].punc, "");
  EXPECT_EQ(s[1].start, 200);
  EXPECT_EQ(s[1].end, 250);
}

TEST(StampSents, MoreUnitsThanStamps) {
  // Units after the stamps run out are dropped; a punctuation unit still closes.
  const auto s = build_stamp_sents("你好世界。再", stamps(2));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].text_seg, "你 好");
  EXPECT_EQ(s[0].punc, "。");
  EXPECT_EQ(s[0].end, 150);
}

TEST(StampSents, NonListedPunctuationTakesAStamp) {
  // '.' is a unit of its own but not punctuation for sentences: it consumes a stamp.
  const auto s = build_stamp_sents("a.b", stamps(3));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].text_seg, "a . b");
  EXPECT_EQ(s[0].punc, "");
  EXPECT_EQ(s[0].end, 250);
}

TEST(StampSents, EmptyInputs) {
  EXPECT_TRUE(build_stamp_sents("", stamps(3)).empty());
  EXPECT_TRUE(build_stamp_sents("你好", {}).empty());
  const auto s = build_stamp_sents("。", {});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].start, -1);
}

TEST(StampsToString, Format) {
  EXPECT_EQ(stamps_to_string({}), "");
  const std::vector<TokenStamp> t = {{10, 170}, {170, 485}};
  EXPECT_EQ(stamps_to_string(t), "[[10,170],[170,485]]");
}

}  // namespace
}  // namespace paraserve
