// A small metrics registry with Prometheus text rendering. No global state: the server owns
// one `Metrics` and passes it by reference. Registration (startup) takes a mutex and may
// allocate; updates on the returned Counter/Gauge/Histogram are single atomic operations
// (lock-free, allocation-free) and are safe from any thread. References stay valid for the
// registry's lifetime.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace paraserve {

// Label pairs of one series, e.g. {{"mode", "2pass"}}. Fixed at registration.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  void inc() noexcept { add(1.0); }
  void dec() noexcept { add(-1.0); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// Fixed buckets chosen at registration (strictly increasing, finite upper bounds; +Inf is
// implicit). observe() is one bucket increment plus one atomic add to the sum.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v) noexcept;
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == upper_bounds().size() is the +Inf bucket).
  uint64_t bucket_count(std::size_t i) const noexcept;
  uint64_t count() const noexcept;  // sum of all buckets
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// Bucket helpers: start, start*factor, ... (count values); start, start+width, ...
std::vector<double> exponential_buckets(double start, double factor, int count);
std::vector<double> linear_buckets(double start, double width, int count);

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Registering the same name + labels again returns the same object. A name reused with a
  // different type, help text or bucket layout, an invalid metric/label name, or a reserved
  // label ("le" on histograms, names starting with "__") throws paraserve::Error.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds, const Labels& labels = {});
  // Values computed at scrape time (e.g. RSS, allocator bytes, ledger drops). The callback
  // runs inside render_prometheus() on the scraping thread and must be thread-safe.
  void gauge_callback(const std::string& name, const std::string& help,
                      std::function<double()> fn, const Labels& labels = {});
  void counter_callback(const std::string& name, const std::string& help,
                        std::function<double()> fn, const Labels& labels = {});

  // Prometheus text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4).
  std::string render_prometheus() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::vector<double> bounds;  // histograms only
    std::deque<Series> series;
  };
  Family& family(const std::string& name, const std::string& help, Type type,
                 const Labels& labels, std::span<const double> bounds);
  Series* find_series(Family& f, const Labels& labels);

  mutable std::mutex mu_;       // guards the family/series structure, never the values
  std::deque<Family> families_;  // registration order is rendering order
};

// Escaping helpers used by the renderer (exposed for tests).
std::string prometheus_escape_label_value(const std::string& v);
std::string prometheus_escape_help(const std::string& v);
std::string prometheus_format_value(double v);

}  // namespace paraserve
