// The decoder threads' scheduler: two classes of connection work, partial work (audio
// feeding: VAD + online pass) before second passes (offline recognizer + punctuation of a
// finished segment), so that one connection's long second pass does not make every other
// stream's partials wait behind it. No starvation: a second pass that has waited longer
// than `second_pass_max_wait`, or that `partial_burst` partial tasks in a row have passed,
// is taken next. With several workers, at most `max_second_passes` second passes run at once
// (default: all workers but one), so that a worker stays free for partial work while long
// second passes run; a second pass that has waited past the bound is taken regardless.
//
// A work item (one connection) is queued or running at most once at a time, like a strand:
// posting an item that is already queued does nothing; posting one that is running queues
// it again once its task has returned. So its tasks run one at a time and in order, the
// queues hold at most one entry per item (bounded by the connections), and the task's
// memory effects are visible to the next one (all hand-overs go through the scheduler's
// mutex).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace paraserve {
class Histogram;
}

namespace paraserve::server {

enum class WorkClass : uint8_t { kPartial = 0, kSecondPass = 1 };
inline constexpr int kWorkClasses = 2;
const char* work_class_name(WorkClass c);  // "partial", "second_pass"

struct SchedulerPolicy {
  std::chrono::steady_clock::duration second_pass_max_wait = std::chrono::milliseconds(0);
  int partial_burst = 8;  // partial tasks in a row while a second pass waits; >= 1
  int max_second_passes = 0;  // running at once; 0 = workers - 1 (at least 1)
};

// What the queues look like when a worker picks its next task (plain data, for tests).
struct QueueView {
  bool partial_waiting = false;
  bool second_waiting = false;
  std::chrono::steady_clock::time_point oldest_second{};  // enqueue time of the oldest second pass
  int partial_run = 0;  // partial tasks taken in a row while a second pass waited
  int second_running = 0;  // second passes running now
  int second_cap = 1;      // the most that may run at once (resolved max_second_passes)
};

// The policy: partial work first, unless a second pass has waited too long or too many
// partial tasks went ahead of it; a second pass only below the running cap unless it waited
// too long. Nothing (wait) when only capped second passes are queued.
std::optional<WorkClass> pick_class(const QueueView& q, std::chrono::steady_clock::time_point now,
                                    const SchedulerPolicy& p);

class WorkScheduler;

// One connection's worker side. run_work() runs one task of the given class and returns the
// class to queue the item with again (more work of its own), or nothing (the item posts
// itself when new work arrives).
class WorkItem {
 public:
  virtual std::optional<WorkClass> run_work(WorkClass cls) = 0;

 protected:
  WorkItem() = default;
  ~WorkItem() = default;

 private:
  friend class WorkScheduler;
  enum class State : uint8_t { kIdle, kQueued, kRunning };
  State state_ = State::kIdle;          // under the scheduler's mutex
  std::optional<WorkClass> repost_;     // posted while running
};

class WorkScheduler {
 public:
  // `wait`: optional histograms of the queue wait per class (seconds), indexed by WorkClass.
  explicit WorkScheduler(SchedulerPolicy policy = {}, Histogram* const* wait = nullptr);
  ~WorkScheduler();  // stop()
  WorkScheduler(const WorkScheduler&) = delete;
  WorkScheduler& operator=(const WorkScheduler&) = delete;

  // Starts `threads` workers named ps-dec-<i>.
  void start(int threads);
  // Queues the item's next task (see the header comment). Thread-safe.
  void post(const std::shared_ptr<WorkItem>& item, WorkClass cls);
  // Runs one queued task on the calling thread; false when none is queued (tests step the
  // scheduler with it, without worker threads).
  bool run_one();
  // Stops the workers (a running task finishes first), joins them, drops what is queued.
  // Items are released outside the lock. Later posts are dropped.
  void stop();

  std::size_t queued(WorkClass cls) const;

 private:
  struct Entry {
    std::shared_ptr<WorkItem> item;
    std::chrono::steady_clock::time_point enqueued{};
  };
  // FIFO on a vector that grows to the largest number of queued items and stays there, so
  // queuing allocates nothing in steady state.
  class Ring {
   public:
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    const Entry& front() const { return slots_[head_]; }
    void push(Entry e);
    Entry pop();
    void clear(std::vector<std::shared_ptr<WorkItem>>& out);

   private:
    std::vector<Entry> slots_;
    std::size_t head_ = 0, size_ = 0;
  };

  void queue_locked(const std::shared_ptr<WorkItem>& item, WorkClass cls, std::chrono::steady_clock::time_point now);
  // Takes the next task (lock held); false when nothing is queued.
  bool take_locked(Entry& e, WorkClass& cls);
  void run(Entry& e, WorkClass cls);
  void worker(int index);

  SchedulerPolicy policy_;
  Histogram* wait_[kWorkClasses] = {nullptr, nullptr};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Ring queues_[kWorkClasses];
  int partial_run_ = 0;
  int second_running_ = 0;
  int second_cap_ = 1;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace paraserve::server
