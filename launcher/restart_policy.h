// What the agent does after an attempt: exit with a status, or restart the gang.
// Pure.
#ifndef FABRIC_LAUNCHER_RESTART_POLICY_H_
#define FABRIC_LAUNCHER_RESTART_POLICY_H_

#include "launcher/exit_status.h"
#include "launcher/gang.h"

namespace fabric::launcher {

struct AttemptDecision {
  bool restart = false;
  int exit_code = 0;  // when !restart: fabric-run's exit status
};

// `restart_count` is the attempt's TORCHELASTIC_RESTART_COUNT (0 for the first).
//  - every worker succeeded: exit 0;
//  - the agent was interrupted by a signal: exit 128 + signal, no restart;
//  - a worker could not be spawned: exit 127 (not found) or 126 (other), no
//    restart (the same exec would fail again);
//  - a worker failed: restart while restart_count < max_restarts, else exit with
//    the root cause's status (its exit code, or 128 + its signal).
AttemptDecision DecideAfterAttempt(const GangOutcome& outcome, int restart_count, int max_restarts);

// fabric-run's status when a worker could not be spawned: 127 when the program was not
// found, else 126 (the shell's convention).
int SpawnExitCode(const absl::Status& spawn_error);

// The failure part of the above, for a single node's coordinator (local_coordinator.h),
// which hears of a failure as its status: restart while `retryable` and restart_count <
// max_restarts, else exit with `status`'s shell code (1 when that is 0).
AttemptDecision DecideAfterFailure(ExitStatus status, bool retryable, int restart_count,
                                   int max_restarts);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_RESTART_POLICY_H_
