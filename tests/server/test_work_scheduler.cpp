// The decoder scheduler (src/server/work_scheduler.h): partial work before second passes,
// no starvation, one task per item at a time and in order. Deterministic: the policy is a
// pure function, the queue order is stepped with run_one() on the test thread, and the
// threaded checks use explicit gates, not sleeps.
#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "observability/metrics.h"
#include "server/work_scheduler.h"

namespace paraserve::server {
namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- the policy

TEST(WorkScheduler, PolicyTakesPartialWorkFirst) {
  SchedulerPolicy p{.second_pass_max_wait = milliseconds(500)};
  const auto now = Clock::now();
  QueueView q{.partial_waiting = true, .second_waiting = true, .oldest_second = now, .partial_run = 0};
  EXPECT_EQ(pick_class(q, now, p), WorkClass::kPartial);
  q.partial_waiting = false;
  EXPECT_EQ(pick_class(q, now, p), WorkClass::kSecondPass);  // nothing else to do
  q = {.partial_waiting = true, .second_waiting = false};
  EXPECT_EQ(pick_class(q, now, p), WorkClass::kPartial);
}

// The default bound is 0 (docs/server.md, "Why the default is 0"): a queued second pass is
// overdue at once and goes first, as when it ran inside the feeding task.
TEST(WorkScheduler, DefaultPolicyDoesNotDeferSecondPasses) {
  const SchedulerPolicy p;
  const auto now = Clock::now();
  const QueueView q{.partial_waiting = true, .second_waiting = true, .oldest_second = now, .partial_run = 0};
  EXPECT_EQ(pick_class(q, now, p), WorkClass::kSecondPass);
}

TEST(WorkScheduler, PolicyTakesASecondPassThatWaitedTooLong) {
  SchedulerPolicy p{.second_pass_max_wait = milliseconds(500), .partial_burst = 1000};
  const auto t = Clock::now();
  QueueView q{.partial_waiting = true, .second_waiting = true, .oldest_second = t, .partial_run = 0};
  EXPECT_EQ(pick_class(q, t + milliseconds(499), p), WorkClass::kPartial);
  EXPECT_EQ(pick_class(q, t + milliseconds(500), p), WorkClass::kSecondPass);
  EXPECT_EQ(pick_class(q, t + milliseconds(5000), p), WorkClass::kSecondPass);
}

TEST(WorkScheduler, PolicyTakesASecondPassAfterABurstOfPartialTasks) {
  SchedulerPolicy p{.second_pass_max_wait = std::chrono::hours(1), .partial_burst = 3};
  const auto t = Clock::now();
  QueueView q{.partial_waiting = true, .second_waiting = true, .oldest_second = t, .partial_run = 2};
  EXPECT_EQ(pick_class(q, t, p), WorkClass::kPartial);
  q.partial_run = 3;
  EXPECT_EQ(pick_class(q, t, p), WorkClass::kSecondPass);
}

TEST(WorkScheduler, PolicyCapsRunningSecondPassesUnlessOverdue) {
  SchedulerPolicy p{.second_pass_max_wait = milliseconds(500), .partial_burst = 1};
  const auto t = Clock::now();
  QueueView q{.partial_waiting = false, .second_waiting = true, .oldest_second = t, .partial_run = 5,
              .second_running = 1, .second_cap = 1};
  EXPECT_EQ(pick_class(q, t, p), std::nullopt);  // a worker stays free for partial work
  q.partial_waiting = true;
  EXPECT_EQ(pick_class(q, t, p), WorkClass::kPartial);  // even past the burst
  EXPECT_EQ(pick_class(q, t + milliseconds(500), p), WorkClass::kSecondPass);  // overdue: taken anyway
  q.second_cap = 2;
  EXPECT_EQ(pick_class(q, t, p), WorkClass::kSecondPass);  // below the cap: the burst rule
}

// ---------------------------------------------------------------- the queues

// An item that records its tasks and then does what `next` says.
class Item final : public WorkItem {
 public:
  Item(std::string name, std::vector<std::string>& log) : name_(std::move(name)), log_(log) {}
  std::optional<WorkClass> run_work(WorkClass cls) override {
    log_.push_back(name_ + (cls == WorkClass::kPartial ? ":p" : ":s"));
    if (on_run) on_run(cls);
    if (plan.empty()) return std::nullopt;
    auto n = plan.front();
    plan.erase(plan.begin());
    return n;
  }
  std::vector<std::optional<WorkClass>> plan;  // what each task returns (then: nothing)
  std::function<void(WorkClass)> on_run;

 private:
  std::string name_;
  std::vector<std::string>& log_;
};

TEST(WorkScheduler, SecondPassesRunAfterWaitingPartialWork) {
  std::vector<std::string> log;
  WorkScheduler s(SchedulerPolicy{.second_pass_max_wait = std::chrono::hours(1), .partial_burst = 100});
  auto a = std::make_shared<Item>("a", log), b = std::make_shared<Item>("b", log), c = std::make_shared<Item>("c", log);
  s.post(a, WorkClass::kSecondPass);
  s.post(b, WorkClass::kPartial);
  s.post(c, WorkClass::kPartial);
  b->plan = {WorkClass::kPartial};  // b has more audio: it queues again, still ahead of a
  while (s.run_one()) {
  }
  EXPECT_EQ(log, (std::vector<std::string>{"b:p", "c:p", "b:p", "a:s"}));
}

TEST(WorkScheduler, ASecondPassIsNotStarvedByPartialWork) {
  std::vector<std::string> log;
  WorkScheduler s(SchedulerPolicy{.second_pass_max_wait = std::chrono::hours(1), .partial_burst = 2});
  auto a = std::make_shared<Item>("a", log), b = std::make_shared<Item>("b", log);
  b->plan.assign(10, WorkClass::kPartial);  // a connection that always has partial work
  s.post(b, WorkClass::kPartial);
  s.post(a, WorkClass::kSecondPass);
  for (int i = 0; i < 6 && s.run_one(); ++i) {
  }
  EXPECT_EQ(log, (std::vector<std::string>{"b:p", "b:p", "a:s", "b:p", "b:p", "b:p"}));
  // The bound on the wait: with 0 ms, a queued second pass goes first.
  std::vector<std::string> log2;
  WorkScheduler t(SchedulerPolicy{.second_pass_max_wait = milliseconds(0), .partial_burst = 100});
  auto c = std::make_shared<Item>("c", log2), d = std::make_shared<Item>("d", log2);
  t.post(c, WorkClass::kPartial);
  t.post(d, WorkClass::kSecondPass);
  while (t.run_one()) {
  }
  EXPECT_EQ(log2, (std::vector<std::string>{"d:s", "c:p"}));
}

TEST(WorkScheduler, AnItemIsQueuedAtMostOnceAndRunsItsTasksInOrder) {
  std::vector<std::string> log;
  WorkScheduler s;
  auto a = std::make_shared<Item>("a", log), b = std::make_shared<Item>("b", log);
  s.post(a, WorkClass::kPartial);
  s.post(a, WorkClass::kPartial);    // already queued: nothing new
  s.post(a, WorkClass::kSecondPass);
  EXPECT_EQ(s.queued(WorkClass::kPartial), 1u);
  EXPECT_EQ(s.queued(WorkClass::kSecondPass), 0u);
  // Posted while its task runs: queued again once the task returns (behind b), not run twice.
  a->on_run = [&](WorkClass) {
    a->on_run = nullptr;
    s.post(a, WorkClass::kPartial);
    EXPECT_EQ(s.queued(WorkClass::kPartial), 1u);  // only b
  };
  s.post(b, WorkClass::kPartial);
  while (s.run_one()) {
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a:p", "b:p", "a:p"}));
}

TEST(WorkScheduler, QueueWaitIsObservedPerClass) {
  Histogram partial(exponential_buckets(0.001, 2, 4)), second(exponential_buckets(0.001, 2, 4));
  Histogram* wait[2] = {&partial, &second};
  std::vector<std::string> log;
  WorkScheduler s({}, wait);
  auto a = std::make_shared<Item>("a", log);
  a->plan = {WorkClass::kSecondPass, WorkClass::kPartial};
  s.post(a, WorkClass::kPartial);
  while (s.run_one()) {
  }
  EXPECT_EQ(partial.count(), 2u);
  EXPECT_EQ(second.count(), 1u);
}

// A gate the test opens by hand.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void wait() {
    std::unique_lock lock(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void wait_for_waiters(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return waiting >= n; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

// With several worker threads, an item posted while its task runs still runs one task at a
// time; other items run meanwhile on the other threads; workers are named ps-dec-<i>.
TEST(WorkScheduler, WorkersRunOneTaskPerItemAtATime) {
  std::mutex log_mu;
  std::vector<std::string> log;
  std::atomic<int> in_a{0}, max_in_a{0}, a_runs{0};
  Gate gate, b_done;
  WorkScheduler s;
  struct Fn final : WorkItem {
    std::function<std::optional<WorkClass>(WorkClass)> fn;
    std::optional<WorkClass> run_work(WorkClass c) override { return fn(c); }
  };
  auto a = std::make_shared<Fn>(), b = std::make_shared<Fn>();
  a->fn = [&](WorkClass) -> std::optional<WorkClass> {
    const int now = ++in_a;
    max_in_a = std::max(max_in_a.load(), now);
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    {
      std::lock_guard lock(log_mu);
      log.push_back(name);
    }
    if (++a_runs == 1) gate.wait();  // the first task blocks until the test opens the gate
    --in_a;
    return std::nullopt;
  };
  b->fn = [&](WorkClass) -> std::optional<WorkClass> {
    b_done.release();
    return std::nullopt;
  };
  s.start(3);
  s.post(a, WorkClass::kPartial);
  gate.wait_for_waiters(1);           // a's first task is running and blocked
  s.post(a, WorkClass::kPartial);     // must wait for it
  s.post(a, WorkClass::kSecondPass);  // (already reposted: nothing new)
  s.post(b, WorkClass::kPartial);     // another item runs on another thread meanwhile
  {
    std::unique_lock lock(b_done.mu);
    b_done.cv.wait(lock, [&] { return b_done.open; });
  }
  EXPECT_EQ(a_runs.load(), 1);
  gate.release();
  for (int i = 0; i < 2000 && a_runs.load() < 2; ++i) std::this_thread::sleep_for(milliseconds(1));
  s.stop();
  EXPECT_EQ(a_runs.load(), 2);
  EXPECT_EQ(max_in_a.load(), 1);
  ASSERT_EQ(log.size(), 2u);
  for (const auto& n : log) EXPECT_EQ(n.rfind("ps-dec-", 0), 0u) << n;
}

// Two workers: while one runs a (long) second pass, a second queued second pass does not
// take the other worker; partial work does. The waiting one runs once the first ends.
TEST(WorkScheduler, OneWorkerStaysFreeForPartialWork) {
  Gate hold, partial_done, b_ran;
  std::atomic<int> b_runs{0};
  struct Fn final : WorkItem {
    std::function<std::optional<WorkClass>(WorkClass)> fn;
    std::optional<WorkClass> run_work(WorkClass c) override { return fn(c); }
  };
  auto a = std::make_shared<Fn>(), b = std::make_shared<Fn>(), c = std::make_shared<Fn>();
  a->fn = [&](WorkClass) -> std::optional<WorkClass> {
    hold.wait();
    return std::nullopt;
  };
  b->fn = [&](WorkClass) -> std::optional<WorkClass> {
    ++b_runs;
    b_ran.release();
    return std::nullopt;
  };
  c->fn = [&](WorkClass) -> std::optional<WorkClass> {
    partial_done.release();
    return std::nullopt;
  };
  WorkScheduler s(SchedulerPolicy{.second_pass_max_wait = std::chrono::hours(1), .partial_burst = 1});
  s.start(2);
  s.post(a, WorkClass::kSecondPass);
  hold.wait_for_waiters(1);  // a's second pass holds one worker
  s.post(b, WorkClass::kSecondPass);
  s.post(c, WorkClass::kPartial);
  {
    std::unique_lock lock(partial_done.mu);
    partial_done.cv.wait(lock, [&] { return partial_done.open; });
  }
  EXPECT_EQ(b_runs.load(), 0);  // capped: still queued
  EXPECT_EQ(s.queued(WorkClass::kSecondPass), 1u);
  hold.release();
  {
    std::unique_lock lock(b_ran.mu);
    b_ran.cv.wait(lock, [&] { return b_ran.open; });
  }
  EXPECT_EQ(b_runs.load(), 1);
  s.stop();
}

TEST(WorkScheduler, StopReleasesQueuedItemsAndDropsLaterPosts) {
  std::vector<std::string> log;
  auto a = std::make_shared<Item>("a", log);
  {
    WorkScheduler s;
    s.post(a, WorkClass::kPartial);
    EXPECT_EQ(a.use_count(), 2);
    s.stop();
    EXPECT_EQ(a.use_count(), 1);
    s.post(a, WorkClass::kPartial);
    EXPECT_FALSE(s.run_one());
  }
  EXPECT_TRUE(log.empty());
}

}  // namespace
}  // namespace paraserve::server
