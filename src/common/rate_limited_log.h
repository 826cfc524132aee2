// A log line that an outside event can repeat at any rate (a client error, an accept
// failure, a slow client) goes through a RateLimitedLog: at most `burst` lines per `period`,
// the rest are counted and the next line that is written says how many were dropped.
// Thread-safe; one instance per kind of event, owned by whoever logs it (no global state).
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace paraserve {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimitedLog(Clock::duration period, int burst) : period_(period), burst_(burst) {}

  // True when a line may be written now; `suppressed` = lines dropped since the last one.
  bool admit(uint64_t& suppressed, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mu_);
    if (now - window_start_ >= period_) {
      window_start_ = now;
      in_window_ = 0;
    }
    if (in_window_ >= burst_) {
      ++dropped_;
      return false;
    }
    ++in_window_;
    suppressed = std::exchange(dropped_, 0);
    return true;
  }

  template <class... Args>
  void log(spdlog::level::level_enum level, fmt::format_string<Args...> format, Args&&... args) {
    if (!spdlog::default_logger_raw()->should_log(level)) return;
    uint64_t suppressed = 0;
    if (!admit(suppressed)) return;
    std::string line = fmt::format(format, std::forward<Args>(args)...);
    if (suppressed > 0) line += fmt::format(" ({} similar line(s) suppressed)", suppressed);
    spdlog::log(level, "{}", line);
  }

  uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  const Clock::duration period_;
  const int burst_;
  mutable std::mutex mu_;
  Clock::time_point window_start_{};
  int in_window_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace paraserve
