#include "observability/ledger_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "observability/memtrace.h"

namespace paraserve {
namespace {

using nlohmann::json;

// A number field, or nullopt when missing / null / not an integer.
std::optional<int64_t> int_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<int64_t>();
}

struct SessionState {
  int64_t last_rss = -1;
  int64_t last_alloc = -1;
  int64_t open_rss = -1;
  std::map<std::size_t, int64_t> phase_deltas;  // row index -> RSS delta summed in this session
};

struct Builder {
  LedgerReport r;
  std::map<std::string, std::size_t> row_of;  // phase name -> index in rows
  std::vector<LedgerPhaseRow> rows;
  std::vector<int64_t> delta_sum, alloc_sum;
  std::unordered_map<std::string, SessionState> open;  // sessions not closed yet
  std::vector<int64_t> close_rss;                     // in close order

  std::size_t row(const std::string& phase) {
    auto [it, inserted] = row_of.emplace(phase, rows.size());
    if (inserted) {
      rows.push_back(LedgerPhaseRow{});
      rows.back().phase = phase;
      delta_sum.push_back(0);
      alloc_sum.push_back(0);
    }
    return it->second;
  }

  void line(const std::string& text) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) return;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("phase") || !j["phase"].is_string()) {
      ++r.bad_lines;
      return;
    }
    const std::string phase = j["phase"].get<std::string>();
    if (phase == "drops") {
      if (auto d = int_field(j, "dropped")) r.dropped = static_cast<uint64_t>(*d);
      return;
    }
    if (phase == "ledger_start") return;
    auto tid = j.find("trace_id");
    if (tid == j.end() || !tid->is_string()) {
      ++r.bad_lines;
      return;
    }
    ++r.events;
    const int64_t rss = int_field(j, "rss_kb").value_or(-1);
    const int64_t alloc = int_field(j, "alloc_allocated").value_or(-1);
    if (rss >= 0) {
      if (r.first_rss_kb < 0) r.first_rss_kb = rss;
      r.last_rss_kb = rss;
      r.peak_rss_kb = std::max(r.peak_rss_kb, rss);
    }
    auto [sit, is_new] = open.try_emplace(tid->get<std::string>());
    if (is_new) ++r.sessions_seen;
    SessionState& s = sit->second;
    std::size_t i = row(phase);
    LedgerPhaseRow& row = rows[i];
    ++row.count;
    if (s.last_rss >= 0 && rss >= 0) {
      int64_t d = rss - s.last_rss;
      row.max_delta_kb = row.with_delta == 0 ? d : std::max(row.max_delta_kb, d);
      ++row.with_delta;
      delta_sum[i] += d;
      s.phase_deltas[i] += d;
    }
    if (s.last_alloc >= 0 && alloc >= 0) {
      ++row.alloc_samples;
      alloc_sum[i] += (alloc - s.last_alloc);
    }
    if (rss >= 0) s.last_rss = rss;
    if (alloc >= 0) s.last_alloc = alloc;
    if (phase == "conn_open" && rss >= 0) s.open_rss = rss;
    if (phase == "conn_close") {
      if (s.open_rss >= 0 && rss >= 0) {
        ++r.sessions_closed;
        r.retained_total_kb += rss - s.open_rss;
        close_rss.push_back(rss);
        for (auto [ri, d] : s.phase_deltas) rows[ri].closed_total_delta_kb += d;
      }
      open.erase(sit);  // keeps the builder's memory bounded by concurrently open sessions
    }
  }

  LedgerReport finish() {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i].total_delta_kb = delta_sum[i];
      if (rows[i].with_delta) rows[i].mean_delta_kb = double(delta_sum[i]) / double(rows[i].with_delta);
      if (rows[i].alloc_samples)
        rows[i].mean_alloc_delta_kb = double(alloc_sum[i]) / 1024.0 / double(rows[i].alloc_samples);
    }
    // Known phases in lifecycle order, then any others by name.
    for (std::size_t p = 0; p < static_cast<std::size_t>(Phase::kCount); ++p) {
      auto it = row_of.find(std::string(phase_name(static_cast<Phase>(p))));
      if (it != row_of.end()) r.phases.push_back(rows[it->second]);
    }
    for (const auto& [name, i] : row_of)
      if (!parse_phase(name)) r.phases.push_back(rows[i]);
    if (r.sessions_closed) r.retained_mean_kb = double(r.retained_total_kb) / double(r.sessions_closed);
    const std::size_t n = close_rss.size();
    if (n >= 2) {
      double mx = (double(n) - 1) / 2, my = 0;
      for (int64_t y : close_rss) my += double(y);
      my /= double(n);
      double cov = 0, var = 0;
      for (std::size_t k = 0; k < n; ++k) {
        double dx = double(k) - mx;
        cov += dx * (double(close_rss[k]) - my);
        var += dx * dx;
      }
      r.growth_per_1000_sessions_kb = cov / var * 1000.0;
    }
    int64_t best = 0;
    for (const auto& row : r.phases)
      if (row.closed_total_delta_kb > best) {
        best = row.closed_total_delta_kb;
        r.leaking_phase = row.phase;
      }
    return std::move(r);
  }
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

LedgerReport build_ledger_report(std::istream& in, const std::string& source_name) {
  Builder b;
  b.r.source = source_name;
  std::string text;
  while (std::getline(in, text)) b.line(text);
  return b.finish();
}

LedgerReport build_ledger_report_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("ledger: cannot open '" + path + "' for reading");
  return build_ledger_report(f, path);
}

std::string format_ledger_table(const LedgerReport& r) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"phase", "count", "deltas", "mean dRSS kB", "max dRSS kB", "total dRSS kB",
                   "closed-session dRSS kB", "mean dAlloc kB"});
  for (const auto& p : r.phases) {
    bool d = p.with_delta > 0;
    cells.push_back({p.phase, std::to_string(p.count), std::to_string(p.with_delta),
                     d ? fmt("%.1f", p.mean_delta_kb) : "-", d ? std::to_string(p.max_delta_kb) : "-",
                     d ? std::to_string(p.total_delta_kb) : "-",
                     d ? std::to_string(p.closed_total_delta_kb) : "-",
                     p.alloc_samples ? fmt("%.1f", p.mean_alloc_delta_kb) : "-"});
  }
  std::vector<std::size_t> w(cells[0].size(), 0);
  for (const auto& row : cells)
    for (std::size_t c = 0; c < row.size(); ++c) w[c] = std::max(w[c], row[c].size());

  std::string out = "memory ledger: " + r.source + "\n";
  out += "events " + std::to_string(r.events) + ", sessions " + std::to_string(r.sessions_seen) +
         " (" + std::to_string(r.sessions_closed) + " closed), dropped " + std::to_string(r.dropped) +
         ", bad lines " + std::to_string(r.bad_lines) + "\n";
  out += "RSS kB: first " + std::to_string(r.first_rss_kb) + ", last " + std::to_string(r.last_rss_kb) +
         ", peak " + std::to_string(r.peak_rss_kb) + "\n\n";
  for (const auto& row : cells) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      std::size_t pad = w[c] - row[c].size();
      if (c == 0) line += row[c] + std::string(pad, ' ');  // names left-aligned
      else line += "  " + std::string(pad, ' ') + row[c];  // numbers right-aligned
    }
    out += line + "\n";
  }
  out += "\nretained per closed session (RSS at conn_close - RSS at conn_open): total " +
         std::to_string(r.retained_total_kb) + " kB, mean " + fmt("%.1f", r.retained_mean_kb) + " kB\n";
  out += "growth per 1,000 sessions (slope of RSS at conn_close): " +
         fmt("%.1f", r.growth_per_1000_sessions_kb) + " kB\n";
  out += "phase leaving the most memory behind: " +
         (r.leaking_phase.empty() ? std::string("none (no positive net growth)") : r.leaking_phase) + "\n";
  return out;
}

std::string format_ledger_json(const LedgerReport& r) {
  json phases = json::array();
  for (const auto& p : r.phases)
    phases.push_back({{"phase", p.phase},
                      {"count", p.count},
                      {"with_delta", p.with_delta},
                      {"mean_delta_kb", p.mean_delta_kb},
                      {"max_delta_kb", p.max_delta_kb},
                      {"total_delta_kb", p.total_delta_kb},
                      {"closed_total_delta_kb", p.closed_total_delta_kb},
                      {"mean_alloc_delta_kb", p.mean_alloc_delta_kb},
                      {"alloc_samples", p.alloc_samples}});
  json j = {{"source", r.source},
            {"events", r.events},
            {"bad_lines", r.bad_lines},
            {"sessions_seen", r.sessions_seen},
            {"sessions_closed", r.sessions_closed},
            {"retained_total_kb", r.retained_total_kb},
            {"retained_mean_kb", r.retained_mean_kb},
            {"growth_per_1000_sessions_kb", r.growth_per_1000_sessions_kb},
            {"first_rss_kb", r.first_rss_kb},
            {"last_rss_kb", r.last_rss_kb},
            {"peak_rss_kb", r.peak_rss_kb},
            {"dropped", r.dropped},
            {"leaking_phase", r.leaking_phase},
            {"phases", phases}};
  return j.dump(2) + "\n";
}

}  // namespace paraserve
