#include "launcher/restart_policy.h"

namespace fabric::launcher {

AttemptDecision DecideAfterAttempt(const GangOutcome& outcome, int restart_count,
                                   int max_restarts) {
  switch (outcome.end) {
    case GangEnd::kSucceeded:
      return {false, 0};
    case GangEnd::kInterrupted:
      return {false, 128 + outcome.interrupt_signal};
    case GangEnd::kSpawnFailed:
      return {false, outcome.spawn_error.code() == absl::StatusCode::kNotFound ? 127 : 126};
    case GangEnd::kWorkerFailed:
      if (restart_count < max_restarts) return {true, 0};
      {
        int code = outcome.root_status.ShellCode();
        return {false, code == 0 ? 1 : code};
      }
  }
  return {false, 1};
}

}  // namespace fabric::launcher
