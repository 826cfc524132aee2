#include <atomic>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "observability/metrics.h"

namespace paraserve {
namespace {

// Checks the exposition format line by line: HELP, then TYPE, then samples of that family
// whose names are the family name (+ _bucket/_sum/_count for histograms); sample lines are
// `name{label="value",...} number`.
void expect_valid_exposition(const std::string& text) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*\})? (NaN|[+-]Inf|-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?)$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  ASSERT_TRUE(text.empty() || text.back() == '\n');
  std::istringstream in(text);
  std::string line, family, type, pending_help;
  std::set<std::string> seen;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kHelp)) {
      pending_help = m[1];
      EXPECT_TRUE(seen.insert(pending_help).second) << "family repeated: " << line;
    } else if (std::regex_match(line, m, kType)) {
      EXPECT_EQ(m[1], pending_help) << "TYPE without HELP: " << line;
      family = m[1];
      type = m[2];
    } else if (std::regex_match(line, m, kSample)) {
      std::string name = m[1];
      if (type == "histogram")
        EXPECT_TRUE(name == family + "_bucket" || name == family + "_sum" || name == family + "_count") << line;
      else
        EXPECT_EQ(name, family) << line;
    } else {
      ADD_FAILURE() << "invalid exposition line: '" << line << "'";
    }
  }
}

TEST(Metrics, RendersCounterAndGaugeExactly) {
  Metrics m;
  Counter& c = m.counter("paraserve_sessions_total", "Sessions accepted.");
  Gauge& g = m.gauge("paraserve_sessions_active", "Sessions open now.");
  c.inc();
  c.inc(4);
  g.set(3);
  g.dec();
  g.add(0.5);
  EXPECT_EQ(m.render_prometheus(),
            "# HELP paraserve_sessions_total Sessions accepted.\n"
            "# TYPE paraserve_sessions_total counter\n"
            "paraserve_sessions_total 5\n"
            "# HELP paraserve_sessions_active Sessions open now.\n"
            "# TYPE paraserve_sessions_active gauge\n"
            "paraserve_sessions_active 2.5\n");
}

TEST(Metrics, RendersHistogramBucketsCumulatively) {
  Metrics m;
  Histogram& h = m.histogram("lat_seconds", "Latency.", {0.125, 0.5, 2});
  for (double v : {0.0625, 0.125, 0.25, 0.5, 1.0, 7.0}) h.observe(v);
  // Upper bounds are inclusive: 0.125 falls in le="0.125", 0.5 in le="0.5".
  EXPECT_EQ(m.render_prometheus(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.125\"} 2\n"
            "lat_seconds_bucket{le=\"0.5\"} 4\n"
            "lat_seconds_bucket{le=\"2\"} 5\n"
            "lat_seconds_bucket{le=\"+Inf\"} 6\n"
            "lat_seconds_sum 8.9375\n"
            "lat_seconds_count 6\n");
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.bucket_count(3), 1u);
}

TEST(Metrics, LabelsAndEscaping) {
  Metrics m;
  m.counter("req_total", "Requests by\nmode \\ kind.", {{"mode", "2pass"}}).inc(2);
  m.counter("req_total", "Requests by\nmode \\ kind.", {{"mode", "a\"b\\c\nd"}}).inc();
  m.histogram("rtf", "RTF.", {1}, {{"mode", "online"}}).observe(0.25);
  EXPECT_EQ(m.render_prometheus(),
            "# HELP req_total Requests by\\nmode \\\\ kind.\n"
            "# TYPE req_total counter\n"
            "req_total{mode=\"2pass\"} 2\n"
            "req_total{mode=\"a\\\"b\\\\c\\nd\"} 1\n"
            "# HELP rtf RTF.\n"
            "# TYPE rtf histogram\n"
            "rtf_bucket{mode=\"online\",le=\"1\"} 1\n"
            "rtf_bucket{mode=\"online\",le=\"+Inf\"} 1\n"
            "rtf_sum{mode=\"online\"} 0.25\n"
            "rtf_count{mode=\"online\"} 1\n");
  expect_valid_exposition(m.render_prometheus());
}

TEST(Metrics, CallbacksRunAtScrapeTime) {
  Metrics m;
  std::atomic<int> calls{0};
  m.gauge_callback("rss_bytes", "RSS.", [&] { return 1000.0 * ++calls; });
  m.counter_callback("drops_total", "Drops.", [] { return 7.0; });
  EXPECT_EQ(calls.load(), 0);
  std::string a = m.render_prometheus();
  std::string b = m.render_prometheus();
  EXPECT_NE(a.find("rss_bytes 1000\n"), std::string::npos) << a;
  EXPECT_NE(b.find("rss_bytes 2000\n"), std::string::npos) << b;
  EXPECT_NE(a.find("# TYPE drops_total counter\ndrops_total 7\n"), std::string::npos) << a;
}

TEST(Metrics, SpecialValuesFormatted) {
  EXPECT_EQ(prometheus_format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(prometheus_format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(prometheus_format_value(0.0 / 0.0), "NaN");
  EXPECT_EQ(prometheus_format_value(0.001), "0.001");
  EXPECT_EQ(prometheus_format_value(-42), "-42");
}

TEST(Metrics, ReRegistrationReturnsSameObject) {
  Metrics m;
  Counter& a = m.counter("x_total", "X.", {{"k", "v"}});
  Counter& b = m.counter("x_total", "X.", {{"k", "v"}});
  Counter& c = m.counter("x_total", "X.", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  Histogram& h1 = m.histogram("h", "H.", {1, 2});
  Histogram& h2 = m.histogram("h", "H.", {1, 2});
  EXPECT_EQ(&h1, &h2);
}

TEST(Metrics, RejectsBadRegistrations) {
  Metrics m;
  m.counter("x_total", "X.");
  m.histogram("h", "H.", {1, 2});
  EXPECT_THROW(m.counter("9bad", "B."), Error);
  EXPECT_THROW(m.counter("bad-name", "B."), Error);
  EXPECT_THROW(m.gauge("x_total", "X."), Error);                     // type clash
  EXPECT_THROW(m.counter("x_total", "Other help."), Error);          // help clash
  EXPECT_THROW(m.histogram("h", "H.", {1, 3}), Error);               // bucket clash
  EXPECT_THROW(m.histogram("h2", "H.", {2, 1}), Error);              // not increasing
  EXPECT_THROW(m.histogram("h3", "H.", {1, 1.0 / 0.0}), Error);      // +Inf is implicit
  EXPECT_THROW(m.histogram("h4", "H.", {1}, {{"le", "x"}}), Error);  // reserved label
  EXPECT_THROW(m.counter("y_total", "Y.", {{"__x", "1"}}), Error);
  EXPECT_THROW(m.counter("y_total", "Y.", {{"a", "1"}, {"a", "2"}}), Error);
  EXPECT_THROW(m.counter("y_total", "Y.", {{"a-b", "1"}}), Error);
  EXPECT_THROW(m.gauge("h_count", "C."), Error);                     // collides with histogram
  EXPECT_THROW(m.gauge_callback("g", "G.", nullptr), Error);
  try {
    m.gauge("x_total", "X.");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x_total"), std::string::npos);
  }
}

TEST(Metrics, ConcurrentUpdatesAreExact) {
  Metrics m;
  Counter& c = m.counter("ops_total", "Ops.");
  Gauge& g = m.gauge("level", "Level.");
  Histogram& h = m.histogram("val", "Values.", linear_buckets(0, 10, 10));
  constexpr int kThreads = 8, kIters = 20000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    // While writers run, every scrape must stay well-formed and self-consistent.
    std::regex inf(R"re(val_bucket\{le="\+Inf"\} (\d+)\nval_sum \S+\nval_count (\d+)\n)re");
    while (!done.load()) {
      std::string text = m.render_prometheus();
      std::smatch mm;
      ASSERT_TRUE(std::regex_search(text, mm, inf)) << text;
      EXPECT_EQ(mm[1], mm[2]);
    }
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        c.inc();
        g.add(1);
        h.observe(static_cast<double>((i + t) % 100));
      }
    });
  for (auto& t : ts) t.join();
  done = true;
  scraper.join();
  EXPECT_EQ(c.value(), uint64_t{kThreads} * kIters);
  EXPECT_EQ(g.value(), double(kThreads) * kIters);
  EXPECT_EQ(h.count(), uint64_t{kThreads} * kIters);
  // Values (i+t)%100 are uniform over 0..99 per 100 iterations; le=0 holds exactly the zeros.
  EXPECT_EQ(h.bucket_count(0), uint64_t{kThreads} * kIters / 100);
  EXPECT_EQ(h.bucket_count(10), uint64_t{kThreads} * kIters * 9 / 100);  // 91..99 -> +Inf
  expect_valid_exposition(m.render_prometheus());
}

TEST(Metrics, BucketHelpers) {
  EXPECT_EQ(exponential_buckets(0.01, 2, 4), (std::vector<double>{0.01, 0.02, 0.04, 0.08}));
  EXPECT_EQ(linear_buckets(1, 0.5, 3), (std::vector<double>{1, 1.5, 2}));
  EXPECT_THROW(exponential_buckets(0, 2, 3), Error);
  EXPECT_THROW(linear_buckets(0, 0, 3), Error);
}

}  // namespace
}  // namespace paraserve
