#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "observability/ledger_report.h"
#include "observability/memtrace.h"

namespace paraserve {
namespace {

std::string ev(const char* trace, const char* phase, long rss, long alloc = -1) {
  std::string a = alloc < 0 ? "null" : std::to_string(alloc);
  return std::string("{\"ts\":1.5,\"trace_id\":\"") + trace + "\",\"session\":1,\"phase\":\"" + phase +
         "\",\"rss_kb\":" + std::to_string(rss) + ",\"alloc_allocated\":" + a + ",\"live_sessions\":1}\n";
}

const LedgerPhaseRow* row(const LedgerReport& r, const std::string& phase) {
  for (const auto& p : r.phases)
    if (p.phase == phase) return &p;
  return nullptr;
}

// Two sequential sessions; numbers chosen so every figure can be worked out by hand.
std::string two_sessions() {
  std::string s = "{\"ts\":1.0,\"phase\":\"ledger_start\",\"allocator\":\"glibc\"}\n";
  s += ev("a", "conn_open", 1000, 0);
  s += ev("a", "first_audio", 1100, 10240);      // +100 kB, +10 kB alloc
  s += ev("a", "offline_end", 1400, 20480);      // +300
  s += ev("a", "conn_close", 1200, 10240);       // -200  -> session a keeps 200
  s += "this is not json\n";
  s += ev("b", "conn_open", 1200, 10240);
  s += ev("b", "first_audio", 1250, 10240);      // +50
  s += ev("b", "offline_end", 1500, 10240);      // +250
  s += ev("b", "conn_close", 1300, 10240);       // -200  -> session b keeps 100
  s += ev("c", "conn_open", 1300);               // never closed
  s += ev("c", "first_audio", 1700);             // +400 (open session only)
  s += "{\"ts\":9.0,\"phase\":\"drops\",\"dropped\":3,\"final\":true}\n";
  return s;
}

TEST(LedgerReport, PerPhaseFigures) {
  std::istringstream in(two_sessions());
  LedgerReport r = build_ledger_report(in, "mem.ndjson");
  EXPECT_EQ(r.source, "mem.ndjson");
  EXPECT_EQ(r.events, 10u);
  EXPECT_EQ(r.bad_lines, 1u);
  EXPECT_EQ(r.sessions_seen, 3u);
  EXPECT_EQ(r.sessions_closed, 2u);
  EXPECT_EQ(r.dropped, 3u);
  EXPECT_EQ(r.first_rss_kb, 1000);
  EXPECT_EQ(r.last_rss_kb, 1700);
  EXPECT_EQ(r.peak_rss_kb, 1700);
  ASSERT_EQ(r.phases.size(), 4u);
  EXPECT_EQ(r.phases[0].phase, "conn_open");  // lifecycle order
  EXPECT_EQ(r.phases[3].phase, "conn_close");

  const auto* open = row(r, "conn_open");
  EXPECT_EQ(open->count, 3u);
  EXPECT_EQ(open->with_delta, 0u);  // nothing earlier in the same session
  const auto* first = row(r, "first_audio");
  EXPECT_EQ(first->count, 3u);
  EXPECT_EQ(first->with_delta, 3u);
  EXPECT_DOUBLE_EQ(first->mean_delta_kb, (100 + 50 + 400) / 3.0);
  EXPECT_EQ(first->max_delta_kb, 400);
  EXPECT_EQ(first->total_delta_kb, 550);
  EXPECT_EQ(first->closed_total_delta_kb, 150);  // session c is still open
  EXPECT_EQ(first->alloc_samples, 2u);
  EXPECT_DOUBLE_EQ(first->mean_alloc_delta_kb, (10 + 0) / 2.0);
  const auto* off = row(r, "offline_end");
  EXPECT_EQ(off->closed_total_delta_kb, 550);
  EXPECT_EQ(off->max_delta_kb, 300);
  const auto* close = row(r, "conn_close");
  EXPECT_EQ(close->max_delta_kb, -200);
  EXPECT_DOUBLE_EQ(close->mean_delta_kb, -200);

  EXPECT_EQ(r.retained_total_kb, 300);
  EXPECT_DOUBLE_EQ(r.retained_mean_kb, 150);
  // Closed-session phase deltas add up to what the sessions kept.
  int64_t sum = 0;
  for (const auto& p : r.phases) sum += p.closed_total_delta_kb;
  EXPECT_EQ(sum, r.retained_total_kb);
  EXPECT_EQ(r.leaking_phase, "offline_end");
  // Two closes at 1200 then 1300 kB: +100 kB per session.
  EXPECT_DOUBLE_EQ(r.growth_per_1000_sessions_kb, 100000);
}

TEST(LedgerReport, GrowthIsLeastSquaresSlope) {
  std::string s;
  const long closes[] = {1000, 1030, 1010, 1040};  // slope 10 kB per session
  for (int i = 0; i < 4; ++i) {
    std::string id = std::to_string(i);
    id.insert(id.begin(), 's');
    s += ev(id.c_str(), "conn_open", 900);
    s += ev(id.c_str(), "conn_close", closes[i]);
  }
  std::istringstream in(s);
  LedgerReport r = build_ledger_report(in, "x");
  EXPECT_NEAR(r.growth_per_1000_sessions_kb, 10000, 1e-6);
}

TEST(LedgerReport, TableIsAligned) {
  std::istringstream in(two_sessions());
  std::string t = format_ledger_table(build_ledger_report(in, "mem.ndjson"));
  EXPECT_NE(t.find("mem.ndjson"), std::string::npos);
  EXPECT_NE(t.find("phase leaving the most memory behind: offline_end"), std::string::npos) << t;
  EXPECT_NE(t.find("growth per 1,000 sessions"), std::string::npos);
  // Header and each phase row have the same width (columns padded).
  std::istringstream lines(t);
  std::string line;
  std::size_t width = 0;
  int rows = 0;
  while (std::getline(lines, line)) {
    bool table_row = line.rfind("phase ", 0) == 0 || line.rfind("conn_", 0) == 0 ||
                     line.rfind("first_audio", 0) == 0 || line.rfind("offline_end", 0) == 0;
    if (!table_row || line.find(':') != std::string::npos) continue;
    if (width == 0) width = line.size();
    EXPECT_EQ(line.size(), width) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 5);
}

TEST(LedgerReport, JsonOutputParses) {
  std::istringstream in(two_sessions());
  auto j = nlohmann::json::parse(format_ledger_json(build_ledger_report(in, "m")));
  EXPECT_EQ(j["sessions_closed"], 2);
  EXPECT_EQ(j["leaking_phase"], "offline_end");
  EXPECT_EQ(j["phases"].size(), 4u);
  EXPECT_EQ(j["phases"][1]["phase"], "first_audio");
  EXPECT_EQ(j["phases"][1]["max_delta_kb"], 400);
}

TEST(LedgerReport, MissingFileIsAClearError) {
  try {
    build_ledger_report_file("/nonexistent/ledger.ndjson");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ledger.ndjson"), std::string::npos);
  }
}

// End to end: what MemoryLedger writes, the report reads.
TEST(LedgerReport, ReadsRealLedgerFile) {
  namespace fs = std::filesystem;
  std::string name = "paraserve-ledger-";
  name += std::to_string(::getpid());
  name += ".ndjson";
  fs::path file = fs::temp_directory_path() / name;
  {
    LedgerConfig c;
    c.path = file.string();
    MemoryLedger l(c);
    for (int i = 0; i < 5; ++i) {
      LedgerSession s(&l, static_cast<uint64_t>(i));
      s.record(Phase::kConnOpen);
      s.record(Phase::kFirstAudio);
      s.chunk();
      s.record(Phase::kFinalSent);
      s.record(Phase::kConnClose);
    }
  }
  LedgerReport r = build_ledger_report_file(file.string());
  fs::remove(file);
  EXPECT_EQ(r.bad_lines, 0u);
  EXPECT_EQ(r.events, 25u);
  EXPECT_EQ(r.sessions_seen, 5u);
  EXPECT_EQ(r.sessions_closed, 5u);
  EXPECT_EQ(r.dropped, 0u);
  ASSERT_EQ(r.phases.size(), 5u);
  EXPECT_EQ(r.phases[2].phase, "chunk");
  EXPECT_GT(r.peak_rss_kb, 0);
}

}  // namespace
}  // namespace paraserve
