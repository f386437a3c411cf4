// The state of one attempt, in the two lifetimes it has (launcher/agent.h runs them):
//   AttemptState  a round, from its plan to the next plan: made anew when a plan arrives
//                 (never reset field by field); a shrink in place moves its plan on.
//   AttemptIo     one spawn of the round's processes: pipes, outputs and FIFOs, owned by
//                 Agent::RunAttempt's scope and closed when it returns.
//   AttemptResult what RunAttempt returns: the gang's outcome and what the report quotes.
#ifndef FABRIC_LAUNCHER_ATTEMPT_H_
#define FABRIC_LAUNCHER_ATTEMPT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/placement.h"
#include "common/unique_fd.h"
#include "common/wait_schedule.h"
#include "launcher/gang.h"
#include "launcher/worker_output.h"

namespace fabric::launcher {

struct AttemptResult {
  GangOutcome outcome;
  std::vector<std::vector<std::string>> stderr_tails;  // by local rank
  std::vector<std::string> stderr_logs;                // by local rank
  std::vector<std::string> error_files;                // by local rank
  std::map<int, std::string> hang_reasons;             // local rank -> why stopped
};

// One attempt's descriptors and outputs: worker pipes (read ends 0..2n-1 are the
// epoll tags: stdout, stderr of each local rank, then the spares'), the children's
// write ends (held for in-place replacements until every worker is gone), and the
// spares' FIFOs. Everything is closed when the attempt's AttemptIo is destroyed.
struct AttemptIo {
  std::vector<std::unique_ptr<WorkerOutput>> outputs;
  std::vector<UniqueFd> read_fds;
  std::vector<UniqueFd> write_fds;
  std::vector<UniqueFd> spare_fifos;
};

// The round being run, from its plan to the next plan (made anew then, never reset
// field by field). Shrinking in place (--recovery in-place, several nodes): a
// membership change was seen while the workers run and the new round's plan is
// awaited; each local worker's control FIFO (the agent's O_RDWR ends), where a shrink
// command (common/worker_control.h) tells it the new world; the shrinks told, and while
// one is not taken by all of them yet, when it was told (it must be taken
// --recovery-timeout later: Agent::CheckShrinkTaken).
struct AttemptState {
  NodePlacement plan;      // a shrink in place moves it on
  std::string rank0_node;  // plan's rank-0 node, when known
  bool awaiting_shrink_plan = false;
  std::vector<UniqueFd> control_fifos;
  int shrinks_told = 0;
  std::optional<absl::Time> shrink_told_at;
  bool stop_requested = false;             // the gang is stopping for a coordinator event
  bool failure_reported = false;           // this attempt's root cause went to the coordinator
  int user_signal = 0;                     // a stop signal the agent received during the attempt
  std::map<pid_t, absl::Time> started_at;  // each worker's start (the event log's durations)
  // Waiting is never silent (common/wait_schedule.h): while the gang stops (the grace
  // period), and while a shrink awaits the workers' acknowledgement.
  std::optional<WaitSchedule> stop_wait;
  std::optional<WaitSchedule> shrink_wait;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ATTEMPT_H_
