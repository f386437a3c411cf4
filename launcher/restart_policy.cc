#include "launcher/restart_policy.h"

namespace fabric::launcher {

AttemptDecision DecideAfterAttempt(const GangOutcome& outcome, int restart_count,
                                   int max_restarts) {
  switch (outcome.end) {
    case GangEnd::kSucceeded: return {false, 0};
    case GangEnd::kInterrupted: return {false, 128 + outcome.interrupt_signal};
    case GangEnd::kSpawnFailed:
      return DecideAfterFailure(ExitStatus::Exited(SpawnExitCode(outcome.spawn_error)),
                                /*retryable=*/false, restart_count, max_restarts);
    case GangEnd::kWorkerFailed:
      return DecideAfterFailure(outcome.root_status, /*retryable=*/true, restart_count,
                                max_restarts);
  }
  return {false, 1};
}

int SpawnExitCode(const absl::Status& spawn_error) {
  return spawn_error.code() == absl::StatusCode::kNotFound ? 127 : 126;
}

AttemptDecision DecideAfterFailure(ExitStatus status, bool retryable, int restart_count,
                                   int max_restarts) {
  if (retryable && restart_count < max_restarts) return {true, 0};
  const int code = status.ShellCode();
  return {false, code == 0 ? 1 : code};
}

}  // namespace fabric::launcher
