#include "launcher/failure_report.h"

#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "launcher/error_file.h"

namespace fabric::launcher {
namespace {

std::string OomHint(const FailureReportInput& in) {
  if (in.status.signal != SIGKILL) return "";
  if (in.oom_kills_before.has_value() && in.oom_kills_after.has_value() &&
      *in.oom_kills_after > *in.oom_kills_before) {
    return absl::StrCat(
        "fabric-run:   hint: killed by the kernel's OOM killer: the memory cgroup's "
        "oom_kill count rose from ",
        *in.oom_kills_before, " to ", *in.oom_kills_after,
        " during this attempt; use less memory per worker or fewer workers\n");
  }
  return "fabric-run:   hint: SIGKILL was not sent by fabric-run; the kernel's OOM "
         "killer is the usual cause (check `dmesg` or the job's memory limit)\n";
}

}  // namespace

std::string FormatFailureReport(const FailureReportInput& in) {
  std::string out = absl::StrCat("fabric-run: worker failure in run ", in.run_id, ", attempt ",
                                 in.restart_count + 1, " of at most ", in.max_restarts + 1,
                                 " (TORCHELASTIC_RESTART_COUNT=", in.restart_count, ")\n");
  absl::StrAppend(&out, "fabric-run:   root cause: rank ", in.global_rank, " (node ", in.node_rank,
                  ", local rank ", in.local_rank, ", pid ", in.pid, ") ",
                  in.status.signal != 0 ? "was killed by " : "exited with ", in.status.Describe(),
                  "\n");
  if (!in.hang_reason.empty()) {
    absl::StrAppend(&out, "fabric-run:   rank ", in.global_rank, " was hung: ", in.hang_reason,
                    "; fabric-run stopped it\n");
    absl::StrAppend(&out, "fabric-run:   where: ",
                    in.hang_stack.empty() ? "(it printed no stack)" : in.hang_stack, "\n");
  } else {
    absl::StrAppend(&out, OomHint(in));
  }
  if (!in.error_file_message.empty()) {
    absl::StrAppend(&out, "fabric-run:   error file: ");
    bool first = true;
    for (absl::string_view line : absl::StrSplit(in.error_file_message, '\n')) {
      if (!first) absl::StrAppend(&out, "fabric-run:     ");
      absl::StrAppend(&out, line, "\n");
      first = false;
    }
  }
  if (in.stderr_tail.empty()) {
    absl::StrAppend(&out, "fabric-run:   rank ", in.global_rank, " wrote nothing to stderr\n");
  } else {
    absl::StrAppend(&out, "fabric-run:   last ", in.stderr_tail.size(), " lines of rank ",
                    in.global_rank, "'s stderr:\n");
    for (const std::string& line : in.stderr_tail) {
      absl::StrAppend(&out, "fabric-run:     | ", line, "\n");
    }
  }
  if (!in.others.empty()) {
    absl::StrAppend(&out, "fabric-run:   other ranks:");
    const char* sep = " ";
    for (const OtherRankEnd& o : in.others) {
      absl::StrAppend(&out, sep, "rank ", o.global_rank, " ", o.status.Describe());
      if (o.signal_sent != 0) absl::StrAppend(&out, " after our ", SignalName(o.signal_sent));
      sep = "; ";
    }
    absl::StrAppend(&out, "\n");
  }
  if (!in.stderr_log_path.empty()) {
    absl::StrAppend(&out, "fabric-run:   full log: ", in.stderr_log_path, "\n");
  }
  if (in.restarting) {
    absl::StrAppend(&out, "fabric-run:   restarting the whole gang (restart ", in.restart_count + 1,
                    " of ", in.max_restarts, ")\n");
  } else {
    absl::StrAppend(&out, "fabric-run:   no restarts left; exiting with the root cause's status\n");
  }
  return out;
}

std::string ParseErrorFileMessage(absl::string_view json) {
  absl::StatusOr<ErrorFile> error = ParseErrorFile(json);
  return error.ok() ? error->message : "";
}

std::optional<int64_t> ParseOomKillCount(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "oom_kill ")) continue;
    int64_t n = 0;
    if (absl::SimpleAtoi(line, &n)) return n;
  }
  return std::nullopt;
}

}  // namespace fabric::launcher
