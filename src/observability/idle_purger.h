// Returns the allocator's unused pages to the kernel when the server is idle, never while it
// works (issue 9). jemalloc's own decay purges pages by age; under steady load that still
// hands back activation buffers between two model calls and faults them in again (measured
// in docs/memory.md: 450-650 minor faults per audio second at a 1 s decay, 17 at 60 s). With
// decay "never" the pages a busy server frees stay for its next calls, and this purger gives
// them back once no model work has run for `idle_ms`, or at once when they exceed a cap.
// One thread, waking every `check_ms`; nothing runs on the audio path except two relaxed
// atomic increments per batch of work (WorkActivity).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace paraserve {

struct IdlePurgeConfig {
  int64_t idle_ms = 5000;      // purge after this long without model work (-1 = never)
  // Purge at once when unused pages exceed this (0 = no cap; -1 = auto: resolve_auto_cap()).
  int64_t unused_cap_mb = -1;
  int64_t check_ms = 200;      // how often the thread looks
  // Empty when valid, else one line naming the bad value.
  std::string validate() const;
  // The auto cap: a tenth of the footprint with the models loaded, at least 32 MiB. The
  // unused pages a busy server needs grow with its models' activations, which grow with the
  // models (docs/memory.md: full-size int8 needs up to ~50 MiB, 32 MiB caps cost it 120
  // faults per audio s; the tiny models need a few MiB, and a larger cap only lets RSS creep).
  static int64_t auto_cap_mb(int64_t loaded_rss_kb) { return std::max<int64_t>(32, loaded_rss_kb / 1024 / 10); }
};

// Model work in flight and done, counted by whoever runs it (the server's decode tasks).
struct WorkActivity {
  std::atomic<uint64_t> started{0}, finished{0};
  // Counts one piece of work for its scope.
  class Scope {
   public:
    explicit Scope(WorkActivity& a) : a_(a) { a_.started.fetch_add(1, std::memory_order_relaxed); }
    ~Scope() { a_.finished.fetch_add(1, std::memory_order_release); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    WorkActivity& a_;
  };
};

enum class PurgeReason { kNone, kIdle, kCap };

// The decision, kept pure for tests: fed one observation per check, it says whether to purge.
class IdlePurgePolicy {
 public:
  using Clock = std::chrono::steady_clock;
  IdlePurgePolicy(const IdlePurgeConfig& config, Clock::time_point now) : config_(config), last_change_(now) {}
  // `started`/`finished`: WorkActivity's counters; `unused_bytes`: the allocator's unused
  // pages (-1 = unknown: then only idleness counts).
  PurgeReason observe(uint64_t started, uint64_t finished, int64_t unused_bytes, Clock::time_point now);

 private:
  IdlePurgeConfig config_;
  uint64_t last_started_ = 0;
  Clock::time_point last_change_;
  bool purged_since_work_ = true;  // nothing to give back before the first piece of work
};

class IdlePurger {
 public:
  struct Hooks {
    std::function<bool()> purge;              // returns false when it could not purge
    std::function<int64_t()> unused_bytes;    // -1 = unknown
  };
  // Starts the thread. `activity` must outlive the purger.
  IdlePurger(const IdlePurgeConfig& config, const WorkActivity& activity, Hooks hooks);
  ~IdlePurger();  // stops and joins
  IdlePurger(const IdlePurger&) = delete;
  IdlePurger& operator=(const IdlePurger&) = delete;

  uint64_t purges(PurgeReason reason) const;

 private:
  void loop();
  IdlePurgeConfig config_;
  const WorkActivity& activity_;
  Hooks hooks_;
  std::atomic<uint64_t> idle_purges_{0}, cap_purges_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace paraserve
