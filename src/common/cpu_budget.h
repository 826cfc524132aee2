// How many CPUs this process may use, and the thread layout `paraserve serve` derives from
// that by default (issue 11, item 3; docs/server.md "Thread layout" gives the measurements).
//
// The budget is the smaller of the affinity mask (sched_getaffinity) and the cgroup CPU
// quota rounded up (cgroup v2 cpu.max, cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us, on
// the process's own group and every ancestor). The file locations are injectable so tests
// can feed fake cgroup trees. Read once at startup (it reads files; not for hot paths).
#pragma once
#include <string>
#include <string_view>

namespace paraserve {

struct CpuBudgetSources {
  std::string proc_cgroup = "/proc/self/cgroup";  // "0::/path" (v2), "N:cpu,cpuacct:/path" (v1)
  std::string cgroup_root = "/sys/fs/cgroup";     // v2 mount; v1 controllers under <root>/cpu...
  int affinity = 0;  // > 0: use this CPU count instead of asking sched_getaffinity (tests)
};

struct CpuBudget {
  int cpus = 1;          // min(affinity, cgroup), always >= 1
  int affinity = 1;      // CPUs in the affinity mask (online CPUs if the mask is unreadable)
  int cgroup = 0;        // CPUs allowed by the tightest cgroup quota, rounded up; 0 = no limit
  std::string cgroup_source = "none";  // e.g. "v2 150000/100000 in /sys/fs/cgroup/a/cpu.max"
  std::string warning;   // cgroup files that could not be parsed and were ignored; "" if none

  // "budget 2 (affinity 2, cgroup none)" / "budget 2 (affinity 8, cgroup 2: v2 150000/100000 in ...)"
  std::string describe() const;
};

CpuBudget read_cpu_budget(const CpuBudgetSources& sources = {});

// Parsers, exposed for tests.
// cgroup v2 cpu.max ("max 100000" or "150000 100000") -> CPUs rounded up; 0 = no limit;
// -1 = malformed.
int parse_cgroup_v2_cpu_max(std::string_view cpu_max);
// cgroup v1 cfs quota/period (quota -1 = no limit) -> CPUs rounded up; 0 = no limit.
int cpus_from_cfs_quota(long quota_us, long period_us);

// The threads of `paraserve serve`. A value <= 0 in ThreadRequest means "not given on the
// command line: derive it from the budget"; a given value is always kept.
struct ThreadRequest {
  int io = 0;
  int decoders = 0;
  int intra_op = 0;
};

struct ThreadLayout {
  int io = 1;
  int decoders = 1;
  int intra_op = 1;
  bool oversubscribed = false;  // given values put decoders x intra-op above the budget
  std::string reason;  // one line: "io 1 (derived), decoders 2 (derived), intra-op 1 (given)"
};

// Pure: budget -> layout. Derived values keep decoders x intra-op <= budget (model work never
// oversubscribes the CPUs): intra-op 1 and one decoder per CPU, because a model call on one
// thread costs the least CPU per audio second and streams, not intra-op threads, fill the
// cores; I/O threads are ceil(budget / 16) and share the cores with the decoders (they are
// idle most of the time: a few percent of one core at full load, docs/server.md).
// Explicit values win; when explicit values leave room, the derived ones fill it, never below 1.
ThreadLayout plan_threads(int budget_cpus, const ThreadRequest& request);

}  // namespace paraserve
