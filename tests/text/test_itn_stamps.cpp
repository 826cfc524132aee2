// Timestamp re-alignment after ITN (FunASR's TimestampSmooth). Expected values follow its
// alignment trace-back and integer spreading step by step (worked out in the comments).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "text/itn_stamps.h"

namespace paraserve {
namespace {

using S = std::vector<TokenStamp>;

std::vector<std::pair<int64_t, int64_t>> P(const S& s) {
  std::vector<std::pair<int64_t, int64_t>> p;
  for (const auto& x : s) p.emplace_back(x.begin_ms, x.end_ms);
  return p;
}

S steps(int n, int64_t first = 0, int64_t step = 100) {
  S s;
  for (int k = 0; k < n; ++k) s.push_back({first + k * step, first + (k + 1) * step});
  return s;
}

TEST(ItnStamps, UnchangedTextKeepsStamps) {
  S out;
  ASSERT_TRUE(smooth_itn_stamps("你好，世界。", "你好，世界。", steps(4), out));
  EXPECT_EQ(P(out), P(steps(4)));
}

TEST(ItnStamps, ReplacedRunSpreadsItsSpan) {
  // 一百二十三 (5 stamps, 200..700) -> 1 2 3: interval (700-200)/3 = 166, the last ends at 700.
  S out;
  ASSERT_TRUE(smooth_itn_stamps("我有一百二十三个", "我有123个", steps(8), out));
  EXPECT_EQ(P(out), P(S{{0, 100}, {100, 200}, {200, 366}, {366, 532}, {532, 700}, {700, 800}}));
}

TEST(ItnStamps, PunctuationIsNotAligned) {
  // 你 好 ， 一 百 。 -> 你 好 ， 1 0 0 。: the run 一百 (300..500) spreads over three digits at the end.
  S out;
  const S in{{0, 100}, {100, 200}, {300, 400}, {400, 500}};
  ASSERT_TRUE(smooth_itn_stamps("你好，一百。", "你好，100。", in, out));
  EXPECT_EQ(P(out), P(S{{0, 100}, {100, 200}, {300, 366}, {366, 432}, {432, 500}}));
}

TEST(ItnStamps, EnglishWordsAreUnits) {
  // twenty five (2 stamps) -> 2 5 (digits are single units): same span, split in two.
  S out;
  ASSERT_TRUE(smooth_itn_stamps("i have twenty five", "i have 25", steps(4), out));
  EXPECT_EQ(P(out), P(S{{0, 100}, {100, 200}, {200, 300}, {300, 400}}));
  ASSERT_TRUE(smooth_itn_stamps("twenty five apples", "25 apples", S{{0, 100}, {100, 300}, {300, 400}}, out));
  EXPECT_EQ(P(out), P(S{{0, 150}, {150, 300}, {300, 400}}));
}

TEST(ItnStamps, InsertionTraceBackFollowsFunAsr) {
  // 你好世界 -> 你好啊世界: FunASR's trace-back pairs (你,好) and (好,啊) and inserts 你 first,
  // so the changed run is 你 好 (0..200) spread over 你 好 啊.
  S out;
  ASSERT_TRUE(smooth_itn_stamps("你好世界", "你好啊世界", steps(4), out));
  EXPECT_EQ(P(out), P(S{{0, 66}, {66, 132}, {132, 200}, {200, 300}, {300, 400}}));
}

TEST(ItnStamps, AppendedUnitMakesTheWholeTextOneRun) {
  // 你好 -> 你好啊: the trace-back pairs (好,啊), (你,好) and inserts 你, so nothing matches and
  // the whole span 0..200 is spread over three units.
  S out;
  ASSERT_TRUE(smooth_itn_stamps("你好", "你好啊", steps(2), out));
  EXPECT_EQ(P(out), P(S{{0, 66}, {66, 132}, {132, 200}}));
}

TEST(ItnStamps, DeletedUnitLosesItsStamp) {
  // 呃你好 -> 你好 (a filler removed): 呃 is deleted in the trace-back; its stamp goes to a run
  // with no normalised unit and is dropped, 你 and 好 keep theirs.
  S out;
  ASSERT_TRUE(smooth_itn_stamps("呃你好", "你好", steps(3), out));
  EXPECT_EQ(P(out), P(S{{100, 200}, {200, 300}}));
}

TEST(ItnStamps, FailuresKeepTheCallerStamps) {
  S out;
  EXPECT_FALSE(smooth_itn_stamps("一百", "100", S{}, out));                  // no stamps
  EXPECT_FALSE(smooth_itn_stamps("一百", "100", S{{0, 100}}, out));         // fewer stamps than units
  EXPECT_FALSE(smooth_itn_stamps("你好", "", steps(2), out));                // an empty result
}

TEST(ItnStamps, ExtraStampsAreDropped) {
  S out;
  ASSERT_TRUE(smooth_itn_stamps("你好", "你好", steps(3), out));
  EXPECT_EQ(P(out), P(steps(2)));
}

}  // namespace
}  // namespace paraserve
