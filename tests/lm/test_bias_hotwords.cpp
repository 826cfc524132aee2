// Hotwords: the bias graph's scores (FunASR's BiasLm), the hotword file and client JSON
// parsing and merge rules, limits, and invalid entries (reported, never fatal).
#include <gtest/gtest.h>

#include <sstream>

#include "lm/bias_lm.h"
#include "lm/hotwords.h"
#include "lm/lm_model.h"

namespace paraserve::lm {
namespace {

TEST(BiasLm, ScoresMatchesCompletionsAndBackOff) {
  BiasLm b({{{1, 2}, 10.0f}}, 20.0f, 10);
  int32_t s1 = -1, s2 = -1, s3 = -1;
  EXPECT_FLOAT_EQ(b.score(0, 1, s1), 20.0f);        // one matched token
  EXPECT_FLOAT_EQ(b.score(s1, 2, s2), 30.0f);       // token + completion weight
  EXPECT_FLOAT_EQ(b.score(s2, 5, s3), 0.0f);        // leaving a completed hotword keeps its bonus
  EXPECT_EQ(s3, 0);
  EXPECT_FLOAT_EQ(b.score(s1, 5, s3), -20.0f);      // a broken partial match gives the bonus back
  EXPECT_EQ(s3, 0);
  EXPECT_FLOAT_EQ(b.score(0, 7, s3), 0.0f);         // no match at the root
  EXPECT_FLOAT_EQ(b.score(0, 11, s3), 0.0f);        // beyond the vocabulary: 0, state reset
  EXPECT_EQ(s3, 0);
}

TEST(BiasLm, AhoCorasickFailureLinks) {
  // "1 2 3" and "2 4": after 1 2, token 4 falls back to the "2" node and completes "2 4".
  BiasLm b({{{1, 2, 3}, 5.0f}, {{2, 4}, 7.0f}}, 20.0f, 10);
  int32_t s = 0;
  float total = b.score(0, 1, s);
  total += b.score(s, 2, s);
  EXPECT_FLOAT_EQ(total, 40.0f);
  // Back-off from depth 2 to the depth-1 "2" node (-20), then match 4 (+20) and complete (+7).
  EXPECT_FLOAT_EQ(b.score(s, 4, s), -20.0f + 20.0f + 7.0f);
}

TEST(BiasLm, SharedPrefixesAndDuplicateSpellingsKeepTheSmallestWeight) {
  // Two phrases spelled the same way: FunASR determinizes the chains, keeping the min weight.
  BiasLm b({{{1, 2}, 50.0f}, {{1, 2}, 5.0f}, {{1}, 3.0f}}, 20.0f, 10);
  int32_t s = 0;
  EXPECT_FLOAT_EQ(b.score(0, 1, s), 23.0f);  // "1" is itself a hotword
  EXPECT_FLOAT_EQ(b.score(s, 2, s), 25.0f);
  EXPECT_EQ(b.num_states(), 3u);
}

TEST(HotwordFile, FunAsrLineFormat) {
  std::istringstream in(
      "阿里巴巴 20\n"
      "  hello world 30  \n"   // phrase with a space; trimmed
      "\n"
      "onlyword\n"             // no weight: skipped
      "bad x\n"                // weight not a number: skipped
      "frac 12.9\n"            // stof then int: 12
      "阿里巴巴 99\n");        // repeat: the first is kept
  HotwordMap m;
  std::vector<std::string> problems;
  parse_hotword_lines(in, "hw.txt", m, problems);
  EXPECT_EQ(m, (HotwordMap{{"阿里巴巴", 20}, {"hello world", 30}, {"frac", 12}}));
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("hw.txt:4"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("hw.txt:5"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("hw.txt:7"), std::string::npos) << problems[2];
}

TEST(HotwordFile, MissingFileIsAClearError) {
  std::vector<std::string> problems;
  try {
    load_hotword_file("/nonexistent/hotwords.txt", problems);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/hotwords.txt"), std::string::npos);
  }
}

TEST(HotwordFile, CountLimit) {
  std::ostringstream text;
  for (std::size_t i = 0; i < kMaxHotwords + 5; ++i) text << "w" << i << " 1\n";
  std::istringstream in(text.str());
  HotwordMap m;
  std::vector<std::string> problems;
  parse_hotword_lines(in, "big.txt", m, problems);
  EXPECT_EQ(m.size(), kMaxHotwords);
  EXPECT_EQ(problems.size(), 5u);
}

TEST(ClientHotwords, JsonObjectMergeAndFunAsrQuirks) {
  std::vector<std::string> problems;
  HotwordMap client;
  EXPECT_TRUE(parse_client_hotwords(R"({"世界": 30, "你好": 12.7, "on": true})", client, problems));
  EXPECT_EQ(client, (HotwordMap{{"世界", 30}, {"你好", 12}, {"on", 1}}));
  EXPECT_TRUE(problems.empty());
  // Client entries win over the server's.
  const HotwordMap merged = merge_hotwords(client, {{"世界", 5}, {"今天", 9}}, problems);
  EXPECT_EQ(merged, (HotwordMap{{"世界", 30}, {"你好", 12}, {"on", 1}, {"今天", 9}}));
  EXPECT_TRUE(problems.empty());
  // The merged count is bounded too.
  HotwordMap many;
  for (std::size_t i = 0; i < kMaxHotwords; ++i) many.emplace(std::to_string(i) + "s", 1);
  EXPECT_EQ(merge_hotwords(client, many, problems).size(), kMaxHotwords);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("3 server entries dropped"), std::string::npos) << problems[0];
  problems.clear();

  // One non-numeric weight loses the whole object (FunASR converts it at once).
  HotwordMap bad;
  EXPECT_FALSE(parse_client_hotwords(R"({"a": 1, "b": "20"})", bad, problems));
  EXPECT_TRUE(bad.empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("'b'"), std::string::npos);
  // Valid JSON that is not an object adds nothing, silently; a non-JSON string is FunASR's
  // NN hotword list: reported, ignored.
  problems.clear();
  EXPECT_FALSE(parse_client_hotwords("123", bad, problems));
  EXPECT_TRUE(problems.empty());
  EXPECT_FALSE(parse_client_hotwords("阿里巴巴 通义", bad, problems));
  EXPECT_EQ(problems.size(), 1u);
  EXPECT_FALSE(parse_client_hotwords("", bad, problems));
  EXPECT_TRUE(bad.empty());
}

LmModel tiny_lm() {
  LmModel m;
  m.lexicon = {{"世", "世"}, {"界", "界"}, {"server", "ser@@ ver"}, {"外", "外"}, {"坏", "坏 <nope>"}};
  return m;
}

TEST(CompileHotwords, SpellsWithTheLexiconAndReportsDroppedEntries) {
  const std::vector<std::string> tokens = {"<blank>", "<s>", "</s>", "世", "界", "ser@@", "ver", "外"};
  const LmModel lm = tiny_lm();
  std::vector<std::string> problems;
  // "世X界": X is not in the lexicon and is left out (FunASR); "server" -> ser@@ ver;
  // "坏" spells with a token outside the vocabulary; "zzz" has no lexicon entry at all.
  auto bias = compile_hotwords({{"世X界", 10}, {"server", 5}, {"坏", 3}, {"zzz", 1}}, lm, tokens, 20.0f, problems);
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(problems.size(), 3u);
  int32_t s = 0;
  EXPECT_FLOAT_EQ(bias->score(0, 3, s), 20.0f);        // 世
  EXPECT_FLOAT_EQ(bias->score(s, 4, s), 30.0f);        // 界 completes "世X界"
  EXPECT_FLOAT_EQ(bias->score(0, 5, s), 20.0f);        // ser@@
  EXPECT_FLOAT_EQ(bias->score(s, 6, s), 25.0f);        // ver completes "server"
  // Nothing usable: no bias graph.
  problems.clear();
  EXPECT_EQ(compile_hotwords({{"zzz", 1}}, lm, tokens, 20.0f, problems), nullptr);
  EXPECT_EQ(problems.size(), 1u);
  // Length limit.
  std::string longword;
  for (std::size_t i = 0; i <= kMaxHotwordTokens; ++i) longword += "外";
  problems.clear();
  EXPECT_EQ(compile_hotwords({{longword, 1}}, lm, tokens, 20.0f, problems), nullptr);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("longer than"), std::string::npos);
}

TEST(SplitChiEng, FunAsrPieces) {
  EXPECT_EQ(split_chi_eng("你好world  foo世界"),
            (std::vector<std::string>{"你", "好", "world", "foo", "世", "界"}));
  EXPECT_EQ(split_chi_eng("hello world"), (std::vector<std::string>{"hello", "world"}));
  EXPECT_TRUE(split_chi_eng("   ").empty());
}

}  // namespace
}  // namespace paraserve::lm
