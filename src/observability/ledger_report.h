// Turns a memory-ledger NDJSON file (memtrace.h) into a per-phase table: how often each
// phase was seen, the RSS change since the same session's previous event, and how much
// memory each session leaves behind (RSS at conn_close minus RSS at conn_open).
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace paraserve {

struct LedgerPhaseRow {
  std::string phase;
  uint64_t count = 0;        // events of this phase
  uint64_t with_delta = 0;   // events that had an earlier event of the same session
  double mean_delta_kb = 0;  // mean RSS change since that earlier event
  int64_t max_delta_kb = 0;
  int64_t total_delta_kb = 0;         // sum over all events with a delta
  int64_t closed_total_delta_kb = 0;  // sum over sessions that reached conn_close only
  double mean_alloc_delta_kb = 0;     // same for allocator "allocated" bytes (0 if unknown)
  uint64_t alloc_samples = 0;
};

struct LedgerReport {
  std::string source;
  std::vector<LedgerPhaseRow> phases;  // in Phase order, then unknown phases by name
  uint64_t events = 0;
  uint64_t bad_lines = 0;       // lines that were not JSON objects with the required fields
  uint64_t sessions_seen = 0;   // distinct trace ids
  uint64_t sessions_closed = 0; // with both conn_open and conn_close
  int64_t retained_total_kb = 0;        // sum over closed sessions of close - open
  double retained_mean_kb = 0;
  double growth_per_1000_sessions_kb = 0;  // least-squares slope of RSS at conn_close vs close order, x1000
  int64_t first_rss_kb = -1, last_rss_kb = -1, peak_rss_kb = -1;
  uint64_t dropped = 0;         // from the last "drops" line
  std::string leaking_phase;    // phase with the largest positive closed_total_delta_kb ("" if none)
};

// Reads NDJSON from `in`. Lines that cannot be used are counted in bad_lines, never fatal.
LedgerReport build_ledger_report(std::istream& in, const std::string& source_name);
// Throws paraserve::Error naming the file if it cannot be opened.
LedgerReport build_ledger_report_file(const std::string& path);

std::string format_ledger_table(const LedgerReport& report);
std::string format_ledger_json(const LedgerReport& report);

}  // namespace paraserve
