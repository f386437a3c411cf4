#include "launcher/cgroup_oom.h"

#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "launcher/failure_report.h"

namespace fabric::launcher {
namespace {

std::string ReadSmallFile(const std::string& path) { return ReadFile(path).value_or(""); }

}  // namespace

std::optional<int64_t> ReadCgroupOomKills() {
  return ReadCgroupOomKillsAt(ReadSmallFile("/proc/self/cgroup"), "/sys/fs/cgroup");
}

std::optional<int64_t> ReadCgroupOomKillsAt(const std::string& proc_cgroup,
                                            const std::string& root) {
  for (absl::string_view line : absl::StrSplit(proc_cgroup, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    std::vector<std::string> paths;
    if (f[0] == "0" && f[1].empty()) {  // v2 (unified), alone or in hybrid mode
      paths = {absl::StrCat(root, f[2], "/memory.events"),
               absl::StrCat(root, "/unified", f[2], "/memory.events")};
    } else if (absl::c_linear_search(absl::StrSplit(f[1], ','), "memory")) {  // v1
      paths = {absl::StrCat(root, "/memory", f[2], "/memory.oom_control")};
    }
    for (const std::string& path : paths) {
      std::optional<int64_t> n = ParseOomKillCount(ReadSmallFile(path));
      if (n.has_value()) return n;
    }
  }
  return std::nullopt;
}

}  // namespace fabric::launcher
