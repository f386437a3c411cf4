// The failure report fabric-run prints when a worker fails: the root cause (first
// failing rank, its exit code or signal), an OOM hint, the worker's own error file
// message, and the last lines of its stderr. Pure formatting and parsing.
#ifndef FABRIC_LAUNCHER_FAILURE_REPORT_H_
#define FABRIC_LAUNCHER_FAILURE_REPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "launcher/exit_status.h"

namespace fabric::launcher {

// How another rank of the failed attempt ended.
struct OtherRankEnd {
  int global_rank = 0;
  ExitStatus status;
  int signal_sent = 0;  // the last signal fabric-run sent it; 0: none
};

struct FailureReportInput {
  std::string run_id;
  int restart_count = 0;  // of the failed attempt
  int max_restarts = 0;
  bool restarting = false;  // the gang restarts after this report
  int global_rank = 0;
  int local_rank = 0;
  int node_rank = 0;
  pid_t pid = -1;
  ExitStatus status;
  // oom_kill counters of the agent's memory cgroup before the attempt and after
  // the failure; unset when unreadable.
  std::optional<int64_t> oom_kills_before;
  std::optional<int64_t> oom_kills_after;
  std::string error_file_message;  // from TORCHELASTIC_ERROR_FILE; may be empty
  // Set when fabric-run's watchdog stopped the rank as hung (launcher/watchdog.h): why,
  // and where it was (launcher/stack_summary.h; empty when it printed no stack).
  std::string hang_reason;
  std::string hang_stack;
  std::vector<std::string> stderr_tail;  // last lines of the rank's stderr
  std::string stderr_log_path;           // empty when there are no log files
  std::vector<OtherRankEnd> others;      // the other local ranks, in rank order
};

// A multi-line report, every line starting with "fabric-run: ", ending in '\n'.
std::string FormatFailureReport(const FailureReportInput& in);

// The message in a torchelastic error file ({"message": "..."} or
// {"message": {"message": "...", "extraInfo": {...}}}). Empty when there is none.
std::string ParseErrorFileMessage(absl::string_view json);

// The value of the "oom_kill N" line of a cgroup memory.events (v2) or
// memory.oom_control (v1) file; nullopt when absent.
std::optional<int64_t> ParseOomKillCount(absl::string_view text);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_FAILURE_REPORT_H_
