#include "launcher/proc_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cctype>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

namespace {

// The pids below `root` (not `root` itself), through the children files of each of its
// threads; nullopt when `root` has none to read (no such kernel feature, or no `root`).
std::optional<std::vector<pid_t>> Descendants(const std::string& proc_root, pid_t root) {
  std::vector<pid_t> out;
  std::vector<pid_t> todo = {root};
  bool any_file = false;
  while (!todo.empty()) {
    const pid_t pid = todo.back();
    todo.pop_back();
    const std::string tasks = absl::StrCat(proc_root, "/", pid, "/task");
    DIR* d = opendir(tasks.c_str());
    if (d == nullptr) {
      if (pid == root) return std::nullopt;
      continue;  // gone meanwhile
    }
    while (dirent* e = readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      std::optional<std::string> children = ReadFile(tasks + "/" + e->d_name + "/children");
      if (!children) continue;
      any_file = true;
      for (absl::string_view c : absl::StrSplit(*children, ' ', absl::SkipWhitespace())) {
        pid_t child = 0;
        if (absl::SimpleAtoi(c, &child) && child > 0) {
          out.push_back(child);
          todo.push_back(child);
        }
      }
    }
    closedir(d);
    if (pid == root && !any_file) return std::nullopt;
  }
  return out;
}

std::vector<pid_t> AllPids(const std::string& proc_root) {
  std::vector<pid_t> out;
  DIR* d = opendir(proc_root.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = 0;
    if (std::isdigit(static_cast<unsigned char>(e->d_name[0])) &&
        absl::SimpleAtoi(e->d_name, &pid)) {
      out.push_back(pid);
    }
  }
  closedir(d);
  return out;
}

}  // namespace

std::map<pid_t, GroupUsage> ReadGroupUsage(const std::set<pid_t>& pgids,
                                           const std::string& proc_root, pid_t root_pid) {
  std::map<pid_t, GroupUsage> out;
  if (pgids.empty()) return out;
  std::optional<std::vector<pid_t>> pids;
  if (root_pid > 0) pids = Descendants(proc_root, root_pid);
  if (!pids) pids = AllPids(proc_root);
  static const long ticks = sysconf(_SC_CLK_TCK);
  static const long page = sysconf(_SC_PAGESIZE);
  for (pid_t pid : *pids) {
    std::optional<ProcStat> st =
        ParseProcStat(ReadFile(absl::StrCat(proc_root, "/", pid, "/stat")).value_or(""));
    if (!st || pgids.count(st->pgrp) == 0) continue;
    GroupUsage& u = out[st->pgrp];
    u.rss_bytes += st->rss_pages * static_cast<uint64_t>(page);
    u.cpu_s += static_cast<double>(st->utime_ticks + st->stime_ticks) / static_cast<double>(ticks);
    ++u.processes;
  }
  return out;
}

}  // namespace fabric::launcher
