// Token timestamps (FunASR TimestampOnnx + PostProcess, util.cpp:720-963) and the ms
// conversion of funasrruntime.cpp:571-581. Frame period 0.02 s, peak position i - 1.5.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "decode/text.h"
#include "decode/timestamps.h"

namespace paraserve {
namespace {

const std::vector<std::string> kVocab = {"<blank>", "<s>", "</s>", "你", "好",
                                         "he@@",    "llo", "world", "<unk>", "<sil>"};

std::vector<float> peaks_at(int frames, std::vector<int> at) {
  std::vector<float> p(static_cast<size_t>(frames), 0.0f);
  for (int i : at) p[static_cast<size_t>(i)] = 1.0f;
  return p;
}

std::vector<std::vector<int64_t>> ms(const std::vector<TokenStamp>& s) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& t : s) out.push_back({t.begin_ms, t.end_ms});
  return out;
}

using V = std::vector<std::vector<int64_t>>;

TEST(Timestamps, MatchingPeaksWithEndSilence) {
  // Peaks at 2, 10, 20 -> 0.5, 8.5, 18.5 frames; 2 tokens + 1 = 3 peaks, no rescale.
  // 你 [0.01, 0.17]; 好 [0.17, ...]; 30 - 18.5 = 11.5 > 5, so 好 ends at (30+18.5)/2 = 24.25
  // frames = 0.485 s and a <sil> follows.
  const std::vector<float> peak = peaks_at(30, {2, 10, 20});
  const std::vector<float> alphas(30, 0.1f);
  const std::vector<int> ids = {3, 4, 2};
  const auto r = timestamped_text(alphas, peak, ids, kVocab, 0);
  EXPECT_EQ(r.text, "你好");
  EXPECT_EQ(ms(r.stamps), (V{{10, 170}, {170, 485}}));
  // With a segment start the stamps are shifted (1.01 s -> 1010 ms, 1.17 -> 1170 ...).
  const auto r2 = timestamped_text(alphas, peak, ids, kVocab, 1000);
  EXPECT_EQ(ms(r2.stamps), (V{{1010, 1170}, {1170, 1485}}));
}

TEST(Timestamps, LeadingSilenceAndShortTail) {
  // First peak at 10 -> 8.5 > 5: a leading <sil> [0, 0.17] (not returned).
  // Tail: 22 - 18.5 = 3.5 <= 5, so the last token ends at 22 frames = 0.44 s.
  const auto s = cif_token_stamps(std::vector<float>(22, 0.1f), peaks_at(22, {10, 14, 20}),
                                  std::vector<int>{3, 4, 2}, kVocab);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FLOAT_EQ(s[0].begin, 8.5f * 0.02f);
  EXPECT_FLOAT_EQ(s[0].end, 12.5f * 0.02f);
  EXPECT_FLOAT_EQ(s[1].begin, 12.5f * 0.02f);
  EXPECT_FLOAT_EQ(s[1].end, 22.0f * 0.02f);
}

TEST(Timestamps, LongTokenIsSplitWithSilence) {
  // Peaks 0.5, 48.5, 58.5: the first token lasts 48 >= 30 frames and is not the last one,
  // so it is cut at 0.5 + 30 = 30.5 frames (0.61 s); the rest is <sil>. The last interval
  // is never cut. Tail: 62 - 58.5 = 3.5 -> the last token ends at 62 frames (1.24 s).
  const auto r = timestamped_text(std::vector<float>(62, 0.1f), peaks_at(62, {2, 50, 60}),
                                  std::vector<int>{3, 4, 2}, kVocab, 0);
  EXPECT_EQ(r.text, "你好");
  EXPECT_EQ(ms(r.stamps), (V{{10, 610}, {970, 1240}}));
}

TEST(Timestamps, BpeWordTakesItsFirstPieceStart) {
  // he@@ llo world: 4 peaks (3 tokens). hello = [start of he@@, end of llo].
  // Peaks 0.5, 5.5, 10.5, 15.5; tail 20 - 15.5 = 4.5 -> world ends at 0.4 s.
  const auto r = timestamped_text(std::vector<float>(20, 0.1f), peaks_at(20, {2, 7, 12, 17}),
                                  std::vector<int>{5, 6, 7, 2}, kVocab, 0);
  EXPECT_EQ(r.text, "hello world");
  EXPECT_EQ(ms(r.stamps), (V{{10, 210}, {210, 400}}));
}

TEST(Timestamps, BpePieceBeforeCjkEndsTheWord) {
  // he@@ before 你: the word ends there as "he " (trailing space kept), with he@@'s own
  // stamp; 你 follows without another space. Peaks 0.5, 5.5, 10.5; tail 14 - 10.5 = 3.5.
  const auto r = timestamped_text(std::vector<float>(14, 0.1f), peaks_at(14, {2, 7, 12}),
                                  std::vector<int>{5, 3, 2}, kVocab, 0);
  EXPECT_EQ(r.text, "he 你");
  EXPECT_EQ(ms(r.stamps), (V{{10, 110}, {110, 280}}));
}

TEST(Timestamps, PostProcessAlwaysSpacesEnglishWords) {
  // Unlike Vector2StringV2, single letters are not glued here; specials are dropped but
  // still own a stamp slot (index i of the stamp list is token i).
  const std::vector<std::string> v = {"<s>", "</s>", "a", "b", "你"};
  const auto r = timestamped_text(std::vector<float>(12, 0.1f), peaks_at(12, {2, 4, 6, 8, 10}),
                                  std::vector<int>{0, 2, 3, 4, 1}, v, 0);
  EXPECT_EQ(r.text, "a b你");
  // slots: <s> [0.5,2.5], a [2.5,4.5], b [4.5,6.5], 你 [6.5, 12 frames]
  EXPECT_EQ(ms(r.stamps), (V{{50, 90}, {90, 130}, {130, 240}}));
}

TEST(Timestamps, OutOfRangeIdIsSkippedLikeTheText) {
  // A greedy id of -1 (an all-NaN logits row) or past the vocabulary is no word: the text
  // and the stamps skip it exactly as ids_to_text does, and it keeps its stamp slot.
  // Slots (frames): 你 [0.5,2.5], -1 [2.5,4.5], 好 [4.5,6.5], 99 [6.5,12] (tail 3.5 <= 5).
  const auto r = timestamped_text(std::vector<float>(12, 0.1f), peaks_at(12, {2, 4, 6, 8, 10}),
                                  std::vector<int>{3, -1, 4, 99, 2}, kVocab, 0);
  EXPECT_EQ(r.text, "你好");
  EXPECT_EQ(ms(r.stamps), (V{{10, 50}, {90, 130}}));
}

TEST(Timestamps, SharesTheTextWalkerWithItsOwnSpacing) {
  // The timestamp text is the ids_to_text walk with WordSpacing::kAlways.
  const std::vector<std::string> v = {"<s>", "</s>", "a", "b", "你", "x@@", "y", "lo@@"};
  for (const std::vector<int>& ids : std::vector<std::vector<int>>{
           {2, 3, 4, 1}, {5, 6, 2, 1}, {7, 4, 2, 1}, {2, 5, 7, 6, 3, 1}, {4, 7}}) {
    std::string walked;
    walk_token_words(ids, v, WordSpacing::kAlways, walked, nullptr);
    const auto r = timestamped_text(std::vector<float>(40, 0.1f), std::vector<float>(40, 0.0f),
                                    ids, v, 0);
    EXPECT_EQ(r.text, walked);
  }
}

TEST(Timestamps, PeakCountMismatchRescalesAlphas) {
  // No peak at all, 2 tokens: the alphas (sum 3) are scaled to sum 3 (scale 1) and
  // re-integrated: cumulative 0.25, 0.5, 0.75, 1.0 -> peak at 3 (minus 0.9999), again at 7
  // and 11. Peaks 1.5, 5.5, 9.5 frames; tail 12 - 9.5 = 2.5 -> the last ends at 0.24 s.
  const auto r = timestamped_text(std::vector<float>(12, 0.25f), std::vector<float>(12, 0.0f),
                                  std::vector<int>{3, 4, 2}, kVocab, 0);
  EXPECT_EQ(ms(r.stamps), (V{{30, 110}, {110, 240}}));
}

TEST(Timestamps, RescaleLeftoverIsPushedBack) {
  // 1 token, peaks wanted: 2. Alphas 0,0,0,0,2 (sum 2, scale 1): only frame 4 crosses, and
  // 2 - 0.9999 = 1.0001 is left; it is written back on frame 3 (the latest non-peak).
  // Peaks 1.5, 2.5; the token spans [0.03, 5 frames = 0.1 s].
  const auto r = timestamped_text(std::vector<float>{0, 0, 0, 0, 2.0f}, std::vector<float>(5, 0),
                                  std::vector<int>{3, 2}, kVocab, 0);
  EXPECT_EQ(ms(r.stamps), (V{{30, 100}}));
}

TEST(Timestamps, SilTokenFromTheModelIsNotStamped) {
  // A vocabulary token named <sil> is filtered out of the stamp list like FunASR's own
  // silences, so the next token takes its slot.
  const auto s = cif_token_stamps(std::vector<float>(10, 0.1f), peaks_at(10, {2, 4, 6}),
                                  std::vector<int>{9, 3}, kVocab);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FLOAT_EQ(s[0].begin, 2.5f * 0.02f);
}

TEST(Timestamps, DegenerateInputs) {
  EXPECT_TRUE(cif_token_stamps({}, {}, {}, kVocab).empty());
  const std::vector<int> only_end = {2};
  EXPECT_TRUE(cif_token_stamps(std::vector<float>(4, 0.5f), peaks_at(4, {1}), only_end, kVocab).empty());
  const auto r = timestamped_text({}, {}, only_end, kVocab, 0);
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stamps.empty());
  // All-zero alphas and no peaks: FunASR gives up (scale 0); the tokens still produce text,
  // each with a 0-length stamp (FunASR would read past its empty stamp list).
  const auto z = timestamped_text(std::vector<float>(6, 0.0f), std::vector<float>(6, 0.0f),
                                  std::vector<int>{3, 4, 2}, kVocab, 0);
  EXPECT_EQ(z.text, "你好");
  EXPECT_EQ(ms(z.stamps), (V{{0, 0}, {0, 0}}));
  EXPECT_THROW(cif_token_stamps(std::vector<float>(3), std::vector<float>(4), only_end, kVocab),
               Error);
}

TEST(Timestamps, MsConversionUsesFunasrFloatArithmetic) {
  EXPECT_EQ(stamp_seconds_to_ms(0.32f, 0), 320);
  // 0.32f + 1.0 lies exactly half-way between two floats and rounds (to even) down to
  // 1.31999993; x1000 in float is 1319.99988 -> 1319, not 1320.
  EXPECT_EQ(stamp_seconds_to_ms(0.32f, 1000), 1319);
  // to_string keeps 6 decimals: 0.0300004 prints as 0.030000.
  EXPECT_EQ(stamp_seconds_to_ms(0.0300004f, 0), 30);
  // Negative stamps (a peak on frame 0 is at -1.5 frames) truncate towards zero.
  EXPECT_EQ(stamp_seconds_to_ms(-0.03f, 0), -30);
  EXPECT_EQ(stamp_seconds_to_ms(-0.0301f, 0), -30);
}

}  // namespace
}  // namespace paraserve
