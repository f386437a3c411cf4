#include "launcher/top.h"

#include <ncurses.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "launcher/status_client.h"

namespace fabric::launcher {
namespace {

// The job's progress: the slowest rank's step (a synchronous job is where its slowest
// rank is), the median of the ranks' rates, and the ETA from them.
std::string Progress(const JobStatus& job) {
  std::optional<uint64_t> step, total;
  std::vector<double> rates;
  for (const RankStatus& r : job.ranks) {
    if (r.state == RankState::kReplaced) continue;
    if (r.step) step = step ? std::min(*step, *r.step) : *r.step;
    if (r.total_steps) total = r.total_steps;
    if (r.step_rate) rates.push_back(*r.step_rate);
  }
  if (!step) return "step -";
  std::string s = absl::StrCat("step ", *step, total ? absl::StrCat("/", *total) : "");
  if (!rates.empty()) {
    std::sort(rates.begin(), rates.end());
    const double rate = rates[rates.size() / 2];
    absl::StrAppend(&s, absl::StrFormat("  %.2f steps/s", rate));
    if (total && rate > 0 && *total > *step) {
      absl::StrAppend(&s, "  ETA ",
                      absl::FormatDuration(absl::Seconds(
                          static_cast<int64_t>(static_cast<double>(*total - *step) / rate))));
    }
  }
  return s;
}

}  // namespace

std::vector<std::string> TopLines(const JobStatus& job, absl::Time now, int width) {
  std::vector<std::string> lines = {
      absl::StrCat("fabric-run top  ", absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()),
                   "  (every 1 s; q quits)"),
      absl::StrCat(Progress(job), "  restarts ", job.restarts_used, " used, ", job.restarts_left,
                   " left")};
  for (absl::string_view l : absl::StrSplit(FormatJobStatus(job), '\n', absl::SkipEmpty())) {
    lines.emplace_back(l);
  }
  for (std::string& l : lines) {
    if (static_cast<int>(l.size()) > width) l.resize(static_cast<size_t>(std::max(0, width)));
  }
  return lines;
}

int RunTopCommand(const std::vector<std::string>& args, const EnvMap& env) {
  std::optional<std::string> run_id;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      WriteAll(
          1, "usage: fabric-run top [RUN-ID]\nfabric-run status, live (every second); q quits.\n");
      return 0;
    }
    if (a.rfind("-", 0) == 0 || run_id.has_value()) {
      WriteAll(2, absl::StrCat("fabric-run: top: unexpected argument '", a,
                               "'; usage: fabric-run top [RUN-ID]\n"));
      return 2;
    }
    run_id = a;
  }
  if (!isatty(1)) {
    WriteAll(2, "fabric-run: top needs a terminal; for a script use fabric-run status --json\n");
    return 2;
  }
  const std::string base = StatusBase(env);
  JobSearch found = FindJobs(base);
  if (found.jobs.empty()) {
    WriteAll(2, absl::StrCat("fabric-run: ", found.nothing, "\n"));
    return 1;
  }
  if (!run_id.has_value()) {
    if (found.jobs.size() > 1) {
      std::string ids;
      for (const JobStatus& j : found.jobs)
        absl::StrAppend(&ids, ids.empty() ? "" : ", ", j.run_id);
      WriteAll(2, absl::StrCat("fabric-run: ", found.jobs.size(), " jobs run here (", ids,
                               "); name one: fabric-run top RUN-ID\n"));
      return 1;
    }
    run_id = found.jobs[0].run_id;
  }
  initscr();
  cbreak();
  noecho();
  curs_set(0);
  timeout(1000);  // getch waits at most a second: the refresh
  std::string ended;
  for (;;) {
    const JobStatus* job = nullptr;
    for (const JobStatus& j : found.jobs) {
      if (j.run_id == *run_id) job = &j;
    }
    if (job == nullptr) {
      ended = absl::StrCat("fabric-run: job ", *run_id, " is not running here\n");
      break;
    }
    erase();
    int row = 0;
    for (const std::string& l : TopLines(*job, absl::Now(), COLS)) {
      if (row >= LINES) break;
      mvaddstr(row++, 0, l.c_str());
    }
    refresh();
    const int ch = getch();
    if (ch == 'q' || ch == 'Q') break;
    found = FindJobs(base);
  }
  endwin();
  if (!ended.empty()) WriteAll(2, ended);
  return 0;
}

}  // namespace fabric::launcher
