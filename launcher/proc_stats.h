// What the OS says a worker's process group uses: resident memory and CPU time, summed over
// every process of the group (the worker, its threads' process, the children it forked), read
// from /proc/<pid>/stat. The agent asks for it for `fabric-run status` and for the status it
// publishes to the other nodes.
// Thread safety: thread-compatible; reads files only.
#ifndef FABRIC_LAUNCHER_PROC_STATS_H_
#define FABRIC_LAUNCHER_PROC_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/string_view.h"

namespace fabric::launcher {

// The fields of one /proc/<pid>/stat line fabric-run reads (proc(5)).
struct ProcStat {
  pid_t pid = -1;
  pid_t pgrp = -1;
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t rss_pages = 0;
};

// Pure: parses a stat line (the command name may hold spaces and parentheses: fields are
// counted after its last ')'); nullopt for a line that is not one.
std::optional<ProcStat> ParseProcStat(absl::string_view line);

struct GroupUsage {
  uint64_t rss_bytes = 0;
  double cpu_s = 0;
  int processes = 0;
};

// For each process group in `pgids`: the sum over the processes whose pgrp is it, of
// `proc_root` (normally "/proc"). With `root_pid` > 0 only `root_pid`'s descendants are
// read, found through <proc_root>/<pid>/task/<tid>/children (the agent, a subreaper, has
// every process of its workers' groups below it): a few files per worker, where reading
// every /proc/<pid>/stat of a machine with 1,000 processes each second, in each of 512
// agents, was most of bench/scale's CPU. Without the children files (a kernel built
// without CONFIG_PROC_CHILDREN, or root_pid 0) every process of `proc_root` is read. A
// group with no process left is absent from the result.
std::map<pid_t, GroupUsage> ReadGroupUsage(const std::set<pid_t>& pgids,
                                           const std::string& proc_root = "/proc",
                                           pid_t root_pid = 0);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_PROC_STATS_H_
