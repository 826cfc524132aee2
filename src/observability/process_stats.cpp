#include "observability/process_stats.h"

#include <fcntl.h>
#include <sched.h>
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

bool parse_long(std::string_view s, long& out) {
  s = skip_spaces(s);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
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

int parse_cgroup_v2_cpu_max(std::string_view cpu_max) {
  std::size_t sp = cpu_max.find(' ');
  if (sp == std::string_view::npos) return -1;
  std::string_view quota = cpu_max.substr(0, sp);
  if (quota == "max") return 0;
  long q = 0, period = 0;
  if (!parse_long(quota, q) || !parse_long(cpu_max.substr(sp + 1), period)) return -1;
  return cpus_from_cfs_quota(q, period);
}

int cpus_from_cfs_quota(long quota_us, long period_us) {
  if (quota_us <= 0 || period_us <= 0) return 0;  // -1 means unlimited in cgroup v1
  long cpus = (quota_us + period_us - 1) / period_us;
  return cpus < 1 ? 1 : static_cast<int>(cpus);
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

int available_cpus() {
  int cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  if (cpus <= 0) cpus = 1;

  // Find this process's cgroup: "0::/path" (v2) or "N:cpu,cpuacct:/path" (v1).
  std::istringstream groups(read_text("/proc/self/cgroup"));
  std::string line, v2_path, v1_path;
  while (std::getline(groups, line)) {
    if (line.rfind("0::", 0) == 0) v2_path = line.substr(3);
    std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    // Controller list, e.g. "cpu,cpuacct": look for the exact "cpu" entry.
    std::string_view ctrls = std::string_view(line).substr(a + 1, b - a - 1);
    for (std::size_t s = 0; s <= ctrls.size();) {
      std::size_t e = std::min(ctrls.find(',', s), ctrls.size());
      if (ctrls.substr(s, e - s) == "cpu") v1_path = line.substr(b + 1);
      s = e + 1;
    }
  }
  int limit = 0;
  // cgroup v2: the limit may be set on the group or an ancestor; take the smallest.
  if (!v2_path.empty()) {
    std::string p = v2_path;
    for (;;) {
      std::string text = read_text("/sys/fs/cgroup" + (p == "/" ? std::string() : p) + "/cpu.max");
      int c = text.empty() ? 0 : parse_cgroup_v2_cpu_max(text);
      if (c > 0 && (limit == 0 || c < limit)) limit = c;
      if (p.empty() || p == "/") break;
      std::size_t slash = p.rfind('/');
      p = slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
    }
  }
  if (limit == 0) {
    for (const char* root : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
      for (const std::string& sub : {v1_path, std::string()}) {
        std::string dir = std::string(root) + (sub == "/" ? std::string() : sub);
        long quota = 0, period = 0;
        if (parse_long(read_text(dir + "/cpu.cfs_quota_us"), quota) &&
            parse_long(read_text(dir + "/cpu.cfs_period_us"), period)) {
          int c = cpus_from_cfs_quota(quota, period);
          if (c > 0 && (limit == 0 || c < limit)) limit = c;
        }
      }
    }
  }
  if (limit > 0 && limit < cpus) cpus = limit;
  return cpus < 1 ? 1 : cpus;
}

}  // namespace paraserve
