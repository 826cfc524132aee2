#include "observability/idle_purger.h"

namespace paraserve {

std::string IdlePurgeConfig::validate() const {
  if (idle_ms < -1) return "idle purge: --allocator-idle-purge-ms must be >= 0, or -1 (never)";
  if (unused_cap_mb < -1) return "idle purge: --allocator-unused-cap-mb must be >= 0 (0 = no cap), or -1 (auto)";
  if (check_ms < 1) return "idle purge: check interval must be >= 1 ms";
  return {};
}

PurgeReason IdlePurgePolicy::observe(uint64_t started, uint64_t finished, int64_t unused_bytes,
                                     Clock::time_point now) {
  // Work started since the last look, or still running: not idle.
  if (started != last_started_ || started != finished) {
    last_started_ = started;
    last_change_ = now;
    purged_since_work_ = false;
  }
  if (config_.unused_cap_mb > 0 && unused_bytes > config_.unused_cap_mb * (int64_t{1} << 20))
    return PurgeReason::kCap;
  if (!purged_since_work_ && config_.idle_ms >= 0 && now - last_change_ >= std::chrono::milliseconds(config_.idle_ms)) {
    purged_since_work_ = true;  // once per idle period: nothing new is freed until work resumes
    return PurgeReason::kIdle;
  }
  return PurgeReason::kNone;
}

IdlePurger::IdlePurger(const IdlePurgeConfig& config, const WorkActivity& activity, Hooks hooks)
    : config_(config), activity_(activity), hooks_(std::move(hooks)) {
  thread_ = std::thread([this] { loop(); });
}

IdlePurger::~IdlePurger() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t IdlePurger::purges(PurgeReason reason) const {
  if (reason == PurgeReason::kIdle) return idle_purges_.load(std::memory_order_relaxed);
  if (reason == PurgeReason::kCap) return cap_purges_.load(std::memory_order_relaxed);
  return 0;
}

void IdlePurger::loop() {
  IdlePurgePolicy policy(config_, IdlePurgePolicy::Clock::now());
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(config_.check_ms), [this] { return stop_; })) {
    lock.unlock();
    // finished before started: a piece that ends between the two loads reads as in flight
    // (one more check), never as idle while it runs.
    uint64_t finished = activity_.finished.load(std::memory_order_acquire);
    uint64_t started = activity_.started.load(std::memory_order_relaxed);
    int64_t unused = config_.unused_cap_mb > 0 && hooks_.unused_bytes ? hooks_.unused_bytes() : -1;
    PurgeReason r = policy.observe(started, finished, unused, IdlePurgePolicy::Clock::now());
    if (r != PurgeReason::kNone && hooks_.purge && hooks_.purge())
      (r == PurgeReason::kIdle ? idle_purges_ : cap_purges_).fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
}

}  // namespace paraserve
