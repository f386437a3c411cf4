#include "launcher/proc_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cctype>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace fabric::launcher {

std::optional<ProcStat> ParseProcStat(absl::string_view line) {
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat s;
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(0, open)), &pid)) {
    return std::nullopt;
  }
  s.pid = pid;
  // After the name: field 3 (state) is index 0, so field N is index N - 3.
  std::vector<absl::string_view> f =
      absl::StrSplit(line.substr(close + 1), ' ', absl::SkipWhitespace());
  int pgrp = 0;
  if (f.size() < 22 || !absl::SimpleAtoi(f[5 - 3], &pgrp) ||
      !absl::SimpleAtoi(f[14 - 3], &s.utime_ticks) ||
      !absl::SimpleAtoi(f[15 - 3], &s.stime_ticks) || !absl::SimpleAtoi(f[24 - 3], &s.rss_pages)) {
    return std::nullopt;
  }
  s.pgrp = pgrp;
  return s;
}

std::map<pid_t, GroupUsage> ReadGroupUsage(const std::set<pid_t>& pgids,
                                           const std::string& proc_root) {
  std::map<pid_t, GroupUsage> out;
  if (pgids.empty()) return out;
  DIR* d = opendir(proc_root.c_str());
  if (d == nullptr) return out;
  static const long ticks = sysconf(_SC_CLK_TCK);
  static const long page = sysconf(_SC_PAGESIZE);
  while (dirent* e = readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::optional<ProcStat> st =
        ParseProcStat(ReadFile(proc_root + "/" + e->d_name + "/stat").value_or(""));
    if (!st || pgids.count(st->pgrp) == 0) continue;
    GroupUsage& u = out[st->pgrp];
    u.rss_bytes += st->rss_pages * static_cast<uint64_t>(page);
    u.cpu_s += static_cast<double>(st->utime_ticks + st->stime_ticks) / static_cast<double>(ticks);
    ++u.processes;
  }
  closedir(d);
  return out;
}

}  // namespace fabric::launcher
