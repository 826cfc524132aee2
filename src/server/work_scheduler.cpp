#include "server/work_scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "observability/metrics.h"

namespace paraserve::server {
using Clock = std::chrono::steady_clock;

const char* work_class_name(WorkClass c) { return c == WorkClass::kPartial ? "partial" : "second_pass"; }

std::optional<WorkClass> pick_class(const QueueView& q, Clock::time_point now, const SchedulerPolicy& p) {
  const bool overdue = q.second_waiting && now - q.oldest_second >= p.second_pass_max_wait;
  const bool second_ok = q.second_waiting && (q.second_running < q.second_cap || overdue);
  if (!second_ok) return q.partial_waiting ? std::optional(WorkClass::kPartial) : std::nullopt;
  if (!q.partial_waiting) return WorkClass::kSecondPass;
  if (overdue || q.partial_run >= p.partial_burst) return WorkClass::kSecondPass;
  return WorkClass::kPartial;
}

// ---------------------------------------------------------------- Ring

void WorkScheduler::Ring::push(Entry e) {
  if (size_ == slots_.size()) {  // full: unroll into a vector twice the size
    std::vector<Entry> bigger(std::max<std::size_t>(8, 2 * slots_.size()));
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(bigger);
    head_ = 0;
  }
  slots_[(head_ + size_) % slots_.size()] = std::move(e);
  ++size_;
}

WorkScheduler::Entry WorkScheduler::Ring::pop() {
  Entry e = std::move(slots_[head_]);
  head_ = (head_ + 1) % slots_.size();
  --size_;
  return e;
}

void WorkScheduler::Ring::clear(std::vector<std::shared_ptr<WorkItem>>& out) {
  while (!empty()) out.push_back(pop().item);
  head_ = 0;
}

// ---------------------------------------------------------------- WorkScheduler

WorkScheduler::WorkScheduler(SchedulerPolicy policy, Histogram* const* wait) : policy_(policy) {
  if (wait)
    for (int i = 0; i < kWorkClasses; ++i) wait_[i] = wait[i];
}

WorkScheduler::~WorkScheduler() { stop(); }

void WorkScheduler::start(int threads) {
  std::lock_guard lock(mu_);
  second_cap_ = policy_.max_second_passes > 0 ? policy_.max_second_passes : std::max(1, threads - 1);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { worker(i); });
}

void WorkScheduler::queue_locked(const std::shared_ptr<WorkItem>& item, WorkClass cls, Clock::time_point now) {
  item->state_ = WorkItem::State::kQueued;
  queues_[static_cast<int>(cls)].push({item, now});
}

void WorkScheduler::post(const std::shared_ptr<WorkItem>& item, WorkClass cls) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    switch (item->state_) {
      case WorkItem::State::kQueued:
        return;  // its task will see the new work
      case WorkItem::State::kRunning:
        if (!item->repost_) item->repost_ = cls;
        return;
      case WorkItem::State::kIdle:
        queue_locked(item, cls, Clock::now());
        break;
    }
  }
  cv_.notify_one();
}

bool WorkScheduler::take_locked(Entry& e, WorkClass& cls) {
  Ring& partial = queues_[static_cast<int>(WorkClass::kPartial)];
  Ring& second = queues_[static_cast<int>(WorkClass::kSecondPass)];
  if (partial.empty() && second.empty()) return false;
  QueueView view;
  view.partial_waiting = !partial.empty();
  view.second_waiting = !second.empty();
  if (view.second_waiting) view.oldest_second = second.front().enqueued;
  view.partial_run = partial_run_;
  view.second_running = second_running_;
  view.second_cap = second_cap_;
  const std::optional<WorkClass> pick = pick_class(view, Clock::now(), policy_);
  if (!pick) return false;
  cls = *pick;
  if (cls == WorkClass::kPartial) {
    partial_run_ = view.second_waiting ? partial_run_ + 1 : 0;
    e = partial.pop();
  } else {
    partial_run_ = 0;
    ++second_running_;
    e = second.pop();
  }
  e.item->state_ = WorkItem::State::kRunning;
  return true;
}

void WorkScheduler::run(Entry& e, WorkClass cls) {
  if (Histogram* h = wait_[static_cast<int>(cls)])
    h->observe(std::chrono::duration<double>(Clock::now() - e.enqueued).count());
  const std::optional<WorkClass> next = e.item->run_work(cls);
  bool notify = cls == WorkClass::kSecondPass;  // a capped second pass may go now
  {
    std::lock_guard lock(mu_);
    if (cls == WorkClass::kSecondPass) --second_running_;
    WorkItem& item = *e.item;
    const std::optional<WorkClass> again = next ? next : item.repost_;
    item.repost_.reset();
    item.state_ = WorkItem::State::kIdle;
    if (again && !stopped_) {
      queue_locked(e.item, *again, Clock::now());
      notify = true;
    }
  }
  if (notify) cv_.notify_one();
  e.item.reset();  // outside the lock: the last reference may destroy the connection
}

bool WorkScheduler::run_one() {
  Entry e;
  WorkClass cls;
  {
    std::lock_guard lock(mu_);
    if (!take_locked(e, cls)) return false;
  }
  run(e, cls);
  return true;
}

void WorkScheduler::worker(int index) {
  // Named so that per-thread CPU time (top -H, /proc/<pid>/task/*/comm) shows the layout.
  char name[16];
  std::snprintf(name, sizeof name, "ps-dec-%d", index);
  ::pthread_setname_np(::pthread_self(), name);
  for (;;) {
    Entry e;
    WorkClass cls;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopped_) return;
        if (take_locked(e, cls)) break;
        // Only capped second passes queued: wake when one ends or the oldest is overdue.
        const Ring& second = queues_[static_cast<int>(WorkClass::kSecondPass)];
        if (!second.empty())
          cv_.wait_until(lock, second.front().enqueued + policy_.second_pass_max_wait);
        else
          cv_.wait(lock);
      }
    }
    run(e, cls);
  }
}

void WorkScheduler::stop() {
  std::vector<std::shared_ptr<WorkItem>> dropped;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (Ring& q : queues_) q.clear(dropped);
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads)
    if (t.joinable()) t.join();
  {
    std::lock_guard lock(mu_);
    for (auto& item : dropped) item->state_ = WorkItem::State::kIdle;
    for (Ring& q : queues_) q.clear(dropped);  // a task that ended meanwhile found stopped_ set
  }
  dropped.clear();  // releases the items outside the lock
}

std::size_t WorkScheduler::queued(WorkClass cls) const {
  std::lock_guard lock(mu_);
  return queues_[static_cast<int>(cls)].size();
}

}  // namespace paraserve::server
