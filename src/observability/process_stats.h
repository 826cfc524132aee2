// Process-level figures read from /proc and cgroups: resident set size, its high-water
// mark, and how many CPUs this process may actually use. All readers return -1 (or 1 for
// CPU counts) instead of throwing, so they are safe to call from metrics scrapes.
#pragma once
#include <cstdint>
#include <string_view>

#include "common/cpu_budget.h"

namespace paraserve {

// Current RSS in KiB from /proc/self/statm (one small read; no parsing of status).
int64_t read_rss_kb();
// Same for another process (used by `paraserve soak` to sample the server); -1 if gone.
int64_t read_rss_kb(int pid);
// Peak RSS (VmHWM) in KiB from /proc/self/status; -1 if unavailable.
int64_t read_hwm_kb();

// CPU time and the page-fault and context-switch counters of a process, for "cost per
// audio second" figures next to RSS (a memory saving that costs CPU must show). -1 when
// unreadable.
struct ProcessCounters {
  double cpu_s = -1;  // utime + stime, all threads
  int64_t minor_faults = -1, major_faults = -1;
  int64_t voluntary_switches = -1, involuntary_switches = -1;  // summed over live threads
};
ProcessCounters read_process_counters(int pid);

// CPUs this process can use: min(affinity mask size, ceil(cgroup CPU quota)); always >= 1.
// read_cpu_budget().cpus (common/cpu_budget.h, which also says where the figure came from).
int available_cpus();

// Parsers, exposed for tests. Each returns -1 when the text is malformed.
// statm: "size resident shared ..." in pages -> resident in KiB.
int64_t parse_statm_rss_kb(std::string_view statm, long page_size_bytes);
// /proc/<pid>/status style "Key:   123 kB" -> 123 for key "Key".
int64_t parse_status_kb(std::string_view status, std::string_view key);
// /proc/<pid>/stat -> cpu_s (ticks / ticks_per_s), minor and major faults; false if malformed.
// The command name (field 2) may contain spaces and parentheses: fields are counted from
// the last ')'.
bool parse_proc_stat(std::string_view stat, long ticks_per_s, ProcessCounters& out);

}  // namespace paraserve
