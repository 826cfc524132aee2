#include "common/cpu_budget.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace paraserve {
namespace {

// Whole small file; "" when missing or unreadable (a missing cgroup file is no limit).
bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool parse_long(std::string_view s, long& out) {
  s = trim(s);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "/a/b" -> {"/a/b", "/a", "/"}: a limit on any ancestor group applies to this process too.
std::vector<std::string> self_and_ancestors(std::string path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') path = "/" + path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  for (;;) {
    out.push_back(path);
    if (path == "/") break;
    const std::size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return out;
}

std::string join(const std::string& dir, const std::string& group) {
  return group == "/" ? dir : dir + group;
}

struct Limit {
  int cpus = 0;  // 0 = none found
  std::string source = "none";
  std::string warning;

  void offer(int c, const std::string& what) {
    if (c > 0 && (cpus == 0 || c < cpus)) {
      cpus = c;
      source = what;
    }
  }
  void malformed(const std::string& path, std::string_view text) {
    if (!warning.empty()) warning += "; ";
    warning += path + ": cannot parse '" + std::string(trim(text).substr(0, 40)) + "', ignored";
  }
};

int affinity_cpus() {
  int cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  return cpus > 0 ? cpus : 1;
}

}  // namespace

int parse_cgroup_v2_cpu_max(std::string_view cpu_max) {
  cpu_max = trim(cpu_max);
  const std::size_t sp = cpu_max.find(' ');
  if (sp == std::string_view::npos) return -1;
  const std::string_view quota = cpu_max.substr(0, sp);
  long period = 0;
  if (!parse_long(cpu_max.substr(sp + 1), period) || period <= 0) return -1;
  if (quota == "max") return 0;
  long q = 0;
  if (!parse_long(quota, q) || q <= 0) return -1;
  return cpus_from_cfs_quota(q, period);
}

int cpus_from_cfs_quota(long quota_us, long period_us) {
  if (quota_us <= 0 || period_us <= 0) return 0;  // -1 means unlimited in cgroup v1
  const long cpus = (quota_us + period_us - 1) / period_us;
  return cpus < 1 ? 1 : static_cast<int>(cpus);
}

std::string CpuBudget::describe() const {
  std::string s = "budget " + std::to_string(cpus) + " (affinity " + std::to_string(affinity) + ", cgroup ";
  s += cgroup > 0 ? std::to_string(cgroup) + ": " + cgroup_source : std::string("none");
  return s + ")";
}

CpuBudget read_cpu_budget(const CpuBudgetSources& src) {
  CpuBudget b;
  b.affinity = src.affinity > 0 ? src.affinity : affinity_cpus();

  // This process's groups: "0::/path" (v2) and "N:ctrl,ctrl:/path" (v1, the "cpu" controller).
  std::string groups;
  read_file(src.proc_cgroup, groups);
  std::string v2_path, v1_path;
  bool have_v2 = false, have_v1 = false;
  std::istringstream lines(groups);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t a = line.find(':');
    const std::size_t c = a == std::string::npos ? a : line.find(':', a + 1);
    if (c == std::string::npos) continue;
    const std::string_view ctrls = std::string_view(line).substr(a + 1, c - a - 1);
    const std::string path = line.substr(c + 1);
    if (line.compare(0, a, "0") == 0 && ctrls.empty()) {
      v2_path = path;
      have_v2 = true;
      continue;
    }
    for (std::size_t s = 0; s <= ctrls.size();) {
      const std::size_t e = std::min(ctrls.find(',', s), ctrls.size());
      if (ctrls.substr(s, e - s) == "cpu") {
        v1_path = path;
        have_v1 = true;
      }
      s = e + 1;
    }
  }

  Limit limit;
  std::string text;
  if (have_v2) {
    for (const auto& g : self_and_ancestors(v2_path)) {
      const std::string file = join(src.cgroup_root, g) + "/cpu.max";
      if (!read_file(file, text)) continue;
      const int c = parse_cgroup_v2_cpu_max(text);
      if (c < 0) limit.malformed(file, text);
      else limit.offer(c, "v2 " + std::string(trim(text)) + " in " + file);
    }
  }
  if (have_v1) {
    // Without a cgroup namespace the group path may not exist under the mount (the mount is
    // the container's own group): the hierarchy root is always tried as the last ancestor.
    for (const char* ctrl_dir : {"/cpu,cpuacct", "/cpuacct,cpu", "/cpu"}) {
      for (const auto& g : self_and_ancestors(v1_path)) {
        const std::string dir = join(src.cgroup_root + ctrl_dir, g);
        std::string period_text;
        if (!read_file(dir + "/cpu.cfs_quota_us", text)) continue;
        long quota = 0, period = 0;
        if (!parse_long(text, quota)) {
          limit.malformed(dir + "/cpu.cfs_quota_us", text);
          continue;
        }
        if (!read_file(dir + "/cpu.cfs_period_us", period_text) || !parse_long(period_text, period) || period <= 0) {
          if (quota > 0) limit.malformed(dir + "/cpu.cfs_period_us", period_text);
          continue;
        }
        limit.offer(cpus_from_cfs_quota(quota, period),
                    "v1 " + std::to_string(quota) + "/" + std::to_string(period) + " in " + dir);
      }
    }
  }
  b.cgroup = limit.cpus;
  b.cgroup_source = limit.source;
  b.warning = limit.warning;
  b.cpus = b.cgroup > 0 && b.cgroup < b.affinity ? b.cgroup : b.affinity;
  if (b.cpus < 1) b.cpus = 1;
  return b;
}

ThreadLayout plan_threads(int budget_cpus, const ThreadRequest& req) {
  const int budget = budget_cpus < 1 ? 1 : budget_cpus;
  ThreadLayout t;
  auto origin = [](int requested) { return std::string(requested > 0 ? "given" : "derived"); };
  t.intra_op = req.intra_op > 0 ? req.intra_op : 1;
  t.decoders = req.decoders > 0 ? req.decoders : std::max(1, budget / t.intra_op);
  t.io = req.io > 0 ? req.io : (budget + 15) / 16;
  t.reason = "io " + std::to_string(t.io) + " (" + origin(req.io) + "), decoders " + std::to_string(t.decoders) +
             " (" + origin(req.decoders) + "), intra-op " + std::to_string(t.intra_op) + " (" + origin(req.intra_op) + ")";
  const int model_threads = t.decoders * t.intra_op;
  t.oversubscribed = model_threads > budget;
  if (t.oversubscribed)
    t.reason += "; oversubscribed: decoders x intra-op = " + std::to_string(model_threads) + " > budget " +
                std::to_string(budget);
  return t;
}

}  // namespace paraserve
