#include "observability/process_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace paraserve {
namespace {

// Reads a small /proc or /sys file in one go (no allocation beyond the caller's buffer).
std::string_view read_small(const char* path, char* buf, std::size_t cap) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n <= 0) return {};
  return std::string_view(buf, static_cast<std::size_t>(n));
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string_view skip_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace

int64_t parse_statm_rss_kb(std::string_view statm, long page_size_bytes) {
  if (page_size_bytes <= 0) return -1;
  const char* p = statm.data();
  const char* end = p + statm.size();
  long size = 0, resident = 0;
  auto r1 = std::from_chars(p, end, size);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ' ') return -1;
  auto r2 = std::from_chars(r1.ptr + 1, end, resident);
  if (r2.ec != std::errc() || resident < 0) return -1;
  return static_cast<int64_t>(resident) * (page_size_bytes / 1024);
}

int64_t parse_status_kb(std::string_view status, std::string_view key) {
  std::size_t pos = 0;
  while (pos < status.size()) {
    std::size_t eol = status.find('\n', pos);
    if (eol == std::string_view::npos) eol = status.size();
    std::string_view line = status.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view rest = skip_spaces(line.substr(key.size() + 1));
      long v = 0;
      auto r = std::from_chars(rest.data(), rest.data() + rest.size(), v);
      if (r.ec != std::errc() || v < 0) return -1;
      return v;
    }
  }
  return -1;
}

int64_t read_rss_kb() {
  char buf[256];
  std::string_view s = read_small("/proc/self/statm", buf, sizeof buf);
  return s.empty() ? -1 : parse_statm_rss_kb(s, ::sysconf(_SC_PAGESIZE));
}

int64_t read_rss_kb(int pid) {
  if (pid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", pid);
  char buf[256];
  std::string_view s = read_small(path, buf, sizeof buf);
  return s.empty() ? -1 : parse_statm_rss_kb(s, ::sysconf(_SC_PAGESIZE));
}

int64_t read_hwm_kb() {
  return parse_status_kb(read_text("/proc/self/status"), "VmHWM");
}

bool parse_proc_stat(std::string_view stat, long ticks_per_s, ProcessCounters& out) {
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_s <= 0) return false;
  // Fields after the command: 3 state, 4 ppid, ... 10 minflt, 12 majflt, 14 utime, 15 stime.
  std::string_view rest = stat.substr(close + 1);
  int64_t field[16] = {};
  int index = 2;
  std::size_t pos = 0;
  while (index < 15) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    if (pos >= rest.size()) return false;
    std::size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    ++index;
    if (index >= 4) {
      auto r = std::from_chars(rest.data() + pos, rest.data() + end, field[index]);
      if (r.ec != std::errc() || r.ptr != rest.data() + end) return false;
    }
    pos = end;
  }
  out.minor_faults = field[10];
  out.major_faults = field[12];
  out.cpu_s = static_cast<double>(field[14] + field[15]) / static_cast<double>(ticks_per_s);
  return true;
}

ProcessCounters read_process_counters(int pid) {
  ProcessCounters c;
  if (pid <= 0) return c;
  char path[64];
  char buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::string_view s = read_small(path, buf, sizeof buf);
  if (s.empty() || !parse_proc_stat(s, ::sysconf(_SC_CLK_TCK), c)) return ProcessCounters{};
  // Context switches are counted per thread (/proc/<pid>/status shows the main thread's
  // only): sum over the threads alive now (threads that already exited are not counted).
  std::snprintf(path, sizeof path, "/proc/%d/task", pid);
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(path, ec)) {
    const std::string status = read_text(task.path().string() + "/status");
    const int64_t v = parse_status_kb(status, "voluntary_ctxt_switches");
    const int64_t n = parse_status_kb(status, "nonvoluntary_ctxt_switches");
    if (v < 0 || n < 0) continue;  // the thread exited between listing and reading
    c.voluntary_switches = std::max<int64_t>(c.voluntary_switches, 0) + v;
    c.involuntary_switches = std::max<int64_t>(c.involuntary_switches, 0) + n;
  }
  return c;
}

int available_cpus() { return read_cpu_budget().cpus; }

}  // namespace paraserve
