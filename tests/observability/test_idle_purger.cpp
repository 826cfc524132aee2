#include "observability/idle_purger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace paraserve {
namespace {

using Clock = IdlePurgePolicy::Clock;
using std::chrono::milliseconds;

IdlePurgeConfig config(int64_t idle_ms, int64_t cap_mb) {
  IdlePurgeConfig c;
  c.idle_ms = idle_ms;
  c.unused_cap_mb = cap_mb;
  return c;
}

TEST(IdlePurgePolicy, NothingBeforeTheFirstWork) {
  const auto t0 = Clock::now();
  IdlePurgePolicy p(config(100, 0), t0);
  EXPECT_EQ(p.observe(0, 0, 1 << 20, t0 + milliseconds(500)), PurgeReason::kNone);
}

TEST(IdlePurgePolicy, PurgesOnceAfterIdleThenWaitsForWork) {
  const auto t0 = Clock::now();
  IdlePurgePolicy p(config(100, 0), t0);
  EXPECT_EQ(p.observe(5, 5, -1, t0 + milliseconds(10)), PurgeReason::kNone);   // work seen
  EXPECT_EQ(p.observe(5, 5, -1, t0 + milliseconds(60)), PurgeReason::kNone);   // idle 50 ms
  EXPECT_EQ(p.observe(5, 5, -1, t0 + milliseconds(111)), PurgeReason::kIdle);  // idle 101 ms
  EXPECT_EQ(p.observe(5, 5, -1, t0 + milliseconds(400)), PurgeReason::kNone);  // already purged
  EXPECT_EQ(p.observe(6, 6, -1, t0 + milliseconds(410)), PurgeReason::kNone);  // work again
  EXPECT_EQ(p.observe(6, 6, -1, t0 + milliseconds(515)), PurgeReason::kIdle);
}

TEST(IdlePurgePolicy, NeverWhileWorkKeepsComingOrRuns) {
  const auto t0 = Clock::now();
  IdlePurgePolicy p(config(100, 0), t0);
  for (int i = 1; i <= 50; ++i)  // a new piece every 50 ms for 2.5 s
    EXPECT_EQ(p.observe(i, i, -1, t0 + milliseconds(50 * i)), PurgeReason::kNone) << i;
  // One long model call (started, not finished) that outlasts the idle time: still busy.
  for (int i = 51; i <= 60; ++i)
    EXPECT_EQ(p.observe(51, 50, -1, t0 + milliseconds(50 * i)), PurgeReason::kNone) << i;
  EXPECT_EQ(p.observe(51, 51, -1, t0 + milliseconds(3050)), PurgeReason::kNone);
  EXPECT_EQ(p.observe(51, 51, -1, t0 + milliseconds(3151)), PurgeReason::kIdle);
}

TEST(IdlePurgePolicy, CapPurgesWhileBusy) {
  const auto t0 = Clock::now();
  IdlePurgePolicy p(config(100, 8), t0);
  EXPECT_EQ(p.observe(1, 1, 8 << 20, t0 + milliseconds(10)), PurgeReason::kNone);         // at the cap
  EXPECT_EQ(p.observe(2, 1, (8 << 20) + 1, t0 + milliseconds(20)), PurgeReason::kCap);    // over it
  EXPECT_EQ(p.observe(3, 2, -1, t0 + milliseconds(30)), PurgeReason::kNone);              // unknown size
}

TEST(IdlePurgePolicy, IdleMinusOneNeverPurgesByIdleness) {
  const auto t0 = Clock::now();
  IdlePurgePolicy p(config(-1, 0), t0);
  EXPECT_EQ(p.observe(1, 1, 1 << 30, t0 + milliseconds(10)), PurgeReason::kNone);
  EXPECT_EQ(p.observe(1, 1, 1 << 30, t0 + std::chrono::hours(1)), PurgeReason::kNone);
}

TEST(IdlePurgeConfig, Validate) {
  EXPECT_EQ(config(0, 0).validate(), "");
  EXPECT_EQ(config(-1, 256).validate(), "");
  EXPECT_NE(config(-2, 0).validate().find("--allocator-idle-purge-ms"), std::string::npos);
  EXPECT_EQ(config(10, -1).validate(), "");  // -1 = auto
  EXPECT_NE(config(10, -2).validate().find("--allocator-unused-cap-mb"), std::string::npos);
}

TEST(IdlePurgeConfig, AutoCapIsATenthOfTheLoadedFootprintAtLeast32MiB) {
  EXPECT_EQ(IdlePurgeConfig::auto_cap_mb(75 * 1024), 32);     // tiny models
  EXPECT_EQ(IdlePurgeConfig::auto_cap_mb(1000 * 1024), 100);  // full-size int8
  EXPECT_EQ(IdlePurgeConfig::auto_cap_mb(0), 32);
}

// The thread: purges once after the work stops, never while a piece is in flight.
TEST(IdlePurger, PurgesAfterWorkStopsNotDuringIt) {
  WorkActivity activity;
  std::atomic<int> purges{0};
  IdlePurgeConfig c = config(30, 0);
  c.check_ms = 2;
  IdlePurger purger(c, activity, {.purge = [&] { ++purges; return true; }, .unused_bytes = nullptr});
  {
    WorkActivity::Scope busy(activity);
    std::this_thread::sleep_for(milliseconds(150));  // a long call: 5x the idle time
    EXPECT_EQ(purges.load(), 0);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (purges.load() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(2));
  EXPECT_EQ(purges.load(), 1);
  EXPECT_EQ(purger.purges(PurgeReason::kIdle), 1u);
  std::this_thread::sleep_for(milliseconds(100));  // idle on: no second purge
  EXPECT_EQ(purges.load(), 1);
  EXPECT_EQ(purger.purges(PurgeReason::kCap), 0u);
}

}  // namespace
}  // namespace paraserve
