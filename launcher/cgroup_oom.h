// How many OOM kills the caller's memory cgroup has seen: the failure report compares the
// count before and after an attempt to say "killed by the OOM killer".
#ifndef FABRIC_LAUNCHER_CGROUP_OOM_H_
#define FABRIC_LAUNCHER_CGROUP_OOM_H_

#include <cstdint>
#include <optional>
#include <string>

namespace fabric::launcher {

// Reads the oom_kill count of the caller's memory cgroup (v2 memory.events or v1
// memory.oom_control). nullopt when unreadable.
std::optional<int64_t> ReadCgroupOomKills();
// The same, for a /proc/<pid>/cgroup text and a cgroup mount root (a test seam).
std::optional<int64_t> ReadCgroupOomKillsAt(const std::string& proc_cgroup,
                                            const std::string& cgroup_root);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_CGROUP_OOM_H_
