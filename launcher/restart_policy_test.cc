#include "launcher/restart_policy.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

GangOutcome Failed(ExitStatus root) {
  GangOutcome o;
  o.end = GangEnd::kWorkerFailed;
  o.root_index = 0;
  o.root_status = root;
  return o;
}

TEST(RestartPolicyTest, SuccessExitsZero) {
  AttemptDecision d = DecideAfterAttempt(GangOutcome{}, 0, 3);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.exit_code, 0);
}

TEST(RestartPolicyTest, FailureRestartsWhileBudgetRemains) {
  EXPECT_TRUE(DecideAfterAttempt(Failed(ExitStatus::Exited(3)), 0, 2).restart);
  EXPECT_TRUE(DecideAfterAttempt(Failed(ExitStatus::Exited(3)), 1, 2).restart);
  EXPECT_FALSE(DecideAfterAttempt(Failed(ExitStatus::Exited(3)), 2, 2).restart);
}

TEST(RestartPolicyTest, NoRestartsMeansTheFirstFailureIsFinal) {
  AttemptDecision d = DecideAfterAttempt(Failed(ExitStatus::Exited(7)), 0, 0);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.exit_code, 7);
}

TEST(RestartPolicyTest, SpentBudgetExitsWithTheRootCauseSignal) {
  AttemptDecision d = DecideAfterAttempt(Failed(ExitStatus::Signaled(SIGSEGV)), 1, 1);
  EXPECT_EQ(d.exit_code, 128 + SIGSEGV);
}

TEST(RestartPolicyTest, InterruptNeverRestarts) {
  GangOutcome o;
  o.end = GangEnd::kInterrupted;
  o.interrupt_signal = SIGTERM;
  AttemptDecision d = DecideAfterAttempt(o, 0, 10);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.exit_code, 128 + SIGTERM);
}

TEST(RestartPolicyTest, PermissionSpawnErrorExits126) {
  GangOutcome o;
  o.end = GangEnd::kSpawnFailed;
  o.spawn_error = absl::PermissionDeniedError("spawn rank 0: execve /x: Permission denied");
  EXPECT_EQ(DecideAfterAttempt(o, 0, 10).exit_code, 126);
}

}  // namespace
}  // namespace fabric::launcher
