#include "observability/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/error.h"

namespace paraserve {
namespace {

bool valid_metric_name(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(const std::string& n) {
  if (n.empty() || n.rfind("__", 0) == 0) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

const char* type_name(int t) {
  switch (t) {
    case 0: return "counter";
    case 1: return "gauge";
    default: return "histogram";
  }
}

void append_labels(std::string& out, const Labels& labels, const char* le = nullptr) {
  if (labels.empty() && !le) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += prometheus_escape_label_value(v);
    out += '"';
  }
  if (le) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_u64(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::string prometheus_escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_escape_help(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1)
    throw Error("exponential_buckets: need start > 0, factor > 1, count >= 1");
  std::vector<double> b;
  for (int i = 0; i < count; ++i, start *= factor) b.push_back(start);
  return b;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  if (!(width > 0) || count < 1) throw Error("linear_buckets: need width > 0, count >= 1");
  std::vector<double> b;
  for (int i = 0; i < count; ++i) b.push_back(start + width * i);
  return b;
}

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]))
      throw Error("histogram buckets: upper bounds must be finite (+Inf is implicit)");
    if (i > 0 && !(bounds_[i] > bounds_[i - 1]))
      throw Error("histogram buckets: upper bounds must be strictly increasing");
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  std::size_t i = bounds_.size();  // NaN goes to +Inf
  if (!std::isnan(v))
    i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::bucket_count(std::size_t i) const noexcept {
  return i <= bounds_.size() ? buckets_[i].load(std::memory_order_relaxed) : 0;
}

uint64_t Histogram::count() const noexcept {
  uint64_t n = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) n += buckets_[i].load(std::memory_order_relaxed);
  return n;
}

Metrics::Series* Metrics::find_series(Family& f, const Labels& labels) {
  for (Series& s : f.series)
    if (s.labels == labels) return &s;
  return nullptr;
}

Metrics::Family& Metrics::family(const std::string& name, const std::string& help, Type type,
                                 const Labels& labels, std::span<const double> bounds) {
  if (!valid_metric_name(name))
    throw Error("metrics: invalid metric name '" + name + "' (expected [a-zA-Z_:][a-zA-Z0-9_:]*)");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string& ln = labels[i].first;
    if (!valid_label_name(ln))
      throw Error("metrics: " + name + ": invalid label name '" + ln +
                  "' (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
    if (type == Type::kHistogram && ln == "le")
      throw Error("metrics: " + name + ": label 'le' is reserved for histogram buckets");
    for (std::size_t j = 0; j < i; ++j)
      if (labels[j].first == ln) throw Error("metrics: " + name + ": duplicate label '" + ln + "'");
  }
  for (Family& f : families_) {
    if (f.name != name) continue;
    if (f.type != type)
      throw Error("metrics: " + name + " already registered as a " +
                  type_name(static_cast<int>(f.type)));
    if (f.help != help) throw Error("metrics: " + name + " already registered with different help text");
    if (type == Type::kHistogram && !std::equal(f.bounds.begin(), f.bounds.end(), bounds.begin(), bounds.end()))
      throw Error("metrics: " + name + " already registered with different buckets");
    return f;
  }
  // Histogram suffixes would collide with another family's series names.
  for (const Family& f : families_) {
    for (const char* suf : {"_bucket", "_sum", "_count"}) {
      if ((type == Type::kHistogram && f.name == name + suf) ||
          (f.type == Type::kHistogram && name == f.name + suf))
        throw Error("metrics: " + name + " collides with histogram series of " + f.name);
    }
  }
  Family& f = families_.emplace_back();
  f.name = name;
  f.help = help;
  f.type = type;
  f.bounds.assign(bounds.begin(), bounds.end());
  return f;
}

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::kCounter, labels, {});
  if (Series* s = find_series(f, labels)) {
    if (!s->counter) throw Error("metrics: " + name + " series already registered as a callback");
    return *s->counter;
  }
  Series& s = f.series.emplace_back();
  s.labels = labels;
  s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::kGauge, labels, {});
  if (Series* s = find_series(f, labels)) {
    if (!s->gauge) throw Error("metrics: " + name + " series already registered as a callback");
    return *s->gauge;
  }
  Series& s = f.series.emplace_back();
  s.labels = labels;
  s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                              std::vector<double> upper_bounds, const Labels& labels) {
  auto h = std::make_unique<Histogram>(std::move(upper_bounds));  // validates the buckets
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::kHistogram, labels, h->upper_bounds());
  if (Series* s = find_series(f, labels)) return *s->histogram;
  Series& s = f.series.emplace_back();
  s.labels = labels;
  s.histogram = std::move(h);
  return *s.histogram;
}

void Metrics::gauge_callback(const std::string& name, const std::string& help,
                             std::function<double()> fn, const Labels& labels) {
  if (!fn) throw Error("metrics: " + name + ": empty callback");
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::kGauge, labels, {});
  if (find_series(f, labels)) throw Error("metrics: " + name + ": series already registered");
  Series& s = f.series.emplace_back();
  s.labels = labels;
  s.callback = std::move(fn);
}

void Metrics::counter_callback(const std::string& name, const std::string& help,
                               std::function<double()> fn, const Labels& labels) {
  if (!fn) throw Error("metrics: " + name + ": empty callback");
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::kCounter, labels, {});
  if (find_series(f, labels)) throw Error("metrics: " + name + ": series already registered");
  Series& s = f.series.emplace_back();
  s.labels = labels;
  s.callback = std::move(fn);
}

std::string Metrics::render_prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(256 * families_.size());
  for (const Family& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += prometheus_escape_help(f.help);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(static_cast<int>(f.type));
    out += '\n';
    for (const Series& s : f.series) {
      if (s.histogram) {
        const Histogram& h = *s.histogram;
        // Read each bucket once; the cumulative counts and _count come from the same reads
        // so the +Inf bucket always equals _count even while other threads observe.
        uint64_t cum = 0;
        const auto& b = h.upper_bounds();
        for (std::size_t i = 0; i <= b.size(); ++i) {
          cum += h.bucket_count(i);
          std::string le = i < b.size() ? prometheus_format_value(b[i]) : "+Inf";
          out += f.name;
          out += "_bucket";
          append_labels(out, s.labels, le.c_str());
          out += ' ';
          append_u64(out, cum);
          out += '\n';
        }
        out += f.name;
        out += "_sum";
        append_labels(out, s.labels);
        out += ' ';
        out += prometheus_format_value(h.sum());
        out += '\n';
        out += f.name;
        out += "_count";
        append_labels(out, s.labels);
        out += ' ';
        append_u64(out, cum);
        out += '\n';
        continue;
      }
      out += f.name;
      append_labels(out, s.labels);
      out += ' ';
      if (s.counter) append_u64(out, s.counter->value());
      else if (s.gauge) out += prometheus_format_value(s.gauge->value());
      else out += prometheus_format_value(s.callback());
      out += '\n';
    }
  }
  return out;
}

}  // namespace paraserve
