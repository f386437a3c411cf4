#include "launcher/gang.h"

#include <signal.h>

#include "common/fake_clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/fake_process_launcher.h"
#include "launcher/restart_policy.h"

namespace fabric::launcher {
namespace {

using Sig = FakeProcessLauncher::Signal;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<GangWorker> Workers(int n) {
  std::vector<GangWorker> ws;
  for (int i = 0; i < n; ++i) {
    GangWorker w;
    w.global_rank = i;
    w.local_rank = i;
    w.spec.name = "rank " + std::to_string(i);
    w.spec.argv = {"/bin/true"};
    ws.push_back(w);
  }
  return ws;
}

class GangTest : public ::testing::Test {
 protected:
  FakeProcessLauncher launcher_;
  FakeClock clock_;
  Gang gang_{&launcher_, &clock_, absl::Seconds(30)};
};

TEST_F(GangTest, AllWorkersSucceedingEndsSucceededWithoutSignals) {
  ASSERT_THAT(gang_.Start(Workers(3)), IsOk());
  for (pid_t pid : launcher_.pids()) EXPECT_TRUE(gang_.OnExit(pid, ExitStatus::Exited(0)));
  EXPECT_TRUE(gang_.finished());
  EXPECT_EQ(gang_.outcome().end, GangEnd::kSucceeded);
  EXPECT_THAT(launcher_.signals(), IsEmpty());
  EXPECT_EQ(launcher_.released().size(), 3u);
  EXPECT_EQ(launcher_.kill_adopted_calls(), 1) << "what the workers left behind is killed once";
}

TEST_F(GangTest, FirstFailureStopsEveryLiveWorkerWithSigterm) {
  ASSERT_THAT(gang_.Start(Workers(3)), IsOk());
  const auto& p = launcher_.pids();
  gang_.OnExit(p[1], ExitStatus::Exited(3));
  EXPECT_THAT(launcher_.signals(), UnorderedElementsAre(Sig{p[0], SIGTERM}, Sig{p[2], SIGTERM}));
  EXPECT_FALSE(gang_.finished());
  EXPECT_EQ(gang_.deadline(), clock_.TimeNow() + absl::Seconds(30));
}

TEST_F(GangTest, LaterFailuresAreNotTheRootCause) {
  ASSERT_THAT(gang_.Start(Workers(3)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[2], ExitStatus::Signaled(SIGSEGV));
  gang_.OnExit(p[0], ExitStatus::Exited(1));
  gang_.OnExit(p[1], ExitStatus::Signaled(SIGTERM));
  ASSERT_TRUE(gang_.finished());
  GangOutcome out = gang_.outcome();
  EXPECT_EQ(out.end, GangEnd::kWorkerFailed);
  EXPECT_EQ(out.root_index, 2);
  EXPECT_EQ(out.root_status, ExitStatus::Signaled(SIGSEGV));
  EXPECT_EQ(out.workers[0].last_signal_sent, SIGTERM);
}

TEST_F(GangTest, SuccessfulExitOfOneWorkerDoesNotStopTheOthers) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  gang_.OnExit(launcher_.pids()[0], ExitStatus::Exited(0));
  EXPECT_THAT(launcher_.signals(), IsEmpty());
  EXPECT_FALSE(gang_.finished());
  EXPECT_FALSE(gang_.deadline().has_value());
}

TEST_F(GangTest, GracePeriodEscalatesToSigkillOnlyAfterTheDeadline) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[0], ExitStatus::Exited(1));
  launcher_.ClearSignals();
  clock_.AdvanceTime(absl::Seconds(29));
  gang_.OnTimer();
  EXPECT_THAT(launcher_.signals(), IsEmpty());  // negative control: not yet
  clock_.AdvanceTime(absl::Seconds(1));
  gang_.OnTimer();
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[1], SIGKILL}));
  gang_.OnTimer();
  EXPECT_EQ(launcher_.signals().size(), 1u);  // once
  gang_.OnExit(p[1], ExitStatus::Signaled(SIGKILL));
  EXPECT_TRUE(gang_.finished());
  EXPECT_FALSE(gang_.deadline().has_value());
}

TEST_F(GangTest, WorkerThatSurvivesSigkillIsAbandonedSoTheAgentNeverHangs) {
  Gang gang(&launcher_, &clock_, absl::Seconds(30), absl::Seconds(10));
  ASSERT_THAT(gang.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang.OnExit(p[0], ExitStatus::Exited(1));
  clock_.AdvanceTime(absl::Seconds(30));
  gang.OnTimer();  // SIGKILL
  EXPECT_EQ(gang.deadline(), clock_.TimeNow() + absl::Seconds(10));
  clock_.AdvanceTime(absl::Seconds(9));
  gang.OnTimer();
  EXPECT_FALSE(gang.finished());  // negative control: still waiting
  clock_.AdvanceTime(absl::Seconds(1));
  gang.OnTimer();
  ASSERT_TRUE(gang.finished());
  GangOutcome out = gang.outcome();
  EXPECT_TRUE(out.workers[1].abandoned);
  EXPECT_FALSE(out.workers[1].status.has_value());
  EXPECT_EQ(out.end, GangEnd::kWorkerFailed);
  EXPECT_EQ(out.root_index, 0);
  EXPECT_FALSE(gang.OnExit(p[1], ExitStatus::Signaled(SIGKILL)));  // too late: ignored
}

TEST_F(GangTest, NoSigkillWhenWorkersLeaveWithinTheGracePeriod) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[0], ExitStatus::Exited(1));
  gang_.OnExit(p[1], ExitStatus::Signaled(SIGTERM));
  EXPECT_FALSE(gang_.deadline().has_value());
  clock_.AdvanceTime(absl::Seconds(60));
  gang_.OnTimer();
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[1], SIGTERM}));
}

TEST_F(GangTest, UnknownPidIsIgnored) {
  ASSERT_THAT(gang_.Start(Workers(1)), IsOk());
  EXPECT_FALSE(gang_.OnExit(4242, ExitStatus::Exited(1)));
  EXPECT_FALSE(gang_.stopping());
  EXPECT_THAT(launcher_.released(), IsEmpty());
}

TEST_F(GangTest, SigintIsForwardedAndEndsInterrupted) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnSignal(SIGINT);
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[0], SIGINT}, Sig{p[1], SIGINT}));
  EXPECT_TRUE(gang_.deadline().has_value());
  gang_.OnExit(p[0], ExitStatus::Signaled(SIGINT));
  gang_.OnExit(p[1], ExitStatus::Exited(1));
  GangOutcome out = gang_.outcome();
  EXPECT_EQ(out.end, GangEnd::kInterrupted);
  EXPECT_EQ(out.interrupt_signal, SIGINT);
  EXPECT_EQ(DecideAfterAttempt(out, 0, 5).exit_code, 128 + SIGINT);
  EXPECT_FALSE(DecideAfterAttempt(out, 0, 5).restart);
}

TEST_F(GangTest, SigtermAndSighupStopTheGangLikeSigint) {
  for (int sig : {SIGTERM, SIGHUP}) {
    FakeProcessLauncher launcher;
    Gang gang(&launcher, &clock_, absl::Seconds(5));
    ASSERT_THAT(gang.Start(Workers(1)), IsOk());
    gang.OnSignal(sig);
    EXPECT_THAT(launcher.signals(), ElementsAre(Sig{launcher.pids()[0], sig}));
    clock_.AdvanceTime(absl::Seconds(5));
    gang.OnTimer();
    EXPECT_THAT(launcher.signals(),
                ElementsAre(Sig{launcher.pids()[0], sig}, Sig{launcher.pids()[0], SIGKILL}));
  }
}

TEST_F(GangTest, InterruptDuringAFailureStopEndsInterrupted) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[0], ExitStatus::Exited(1));
  gang_.OnSignal(SIGTERM);
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[1], SIGTERM}, Sig{p[1], SIGTERM}));
  gang_.OnExit(p[1], ExitStatus::Signaled(SIGTERM));
  GangOutcome out = gang_.outcome();
  EXPECT_EQ(out.end, GangEnd::kInterrupted);  // the user asked to stop: no restart
  EXPECT_FALSE(DecideAfterAttempt(out, 0, 5).restart);
  EXPECT_EQ(DecideAfterAttempt(out, 0, 5).exit_code, 128 + SIGTERM);
}

TEST_F(GangTest, SignalAfterEveryWorkerExitedChangesNothing) {
  ASSERT_THAT(gang_.Start(Workers(1)), IsOk());
  gang_.OnExit(launcher_.pids()[0], ExitStatus::Exited(0));
  gang_.OnSignal(SIGINT);
  EXPECT_EQ(gang_.outcome().end, GangEnd::kSucceeded);
  EXPECT_THAT(launcher_.signals(), IsEmpty());
}

TEST_F(GangTest, RepeatedInterruptEscalatesAtOnce) {
  ASSERT_THAT(gang_.Start(Workers(1)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnSignal(SIGINT);
  gang_.OnSignal(SIGINT);
  EXPECT_THAT(launcher_.signals(),
              ElementsAre(Sig{p[0], SIGINT}, Sig{p[0], SIGINT}, Sig{p[0], SIGKILL}));
}

TEST_F(GangTest, Sigusr1AndSigusr2AreForwardedWithoutStopping) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnSignal(SIGUSR1);
  gang_.OnSignal(SIGUSR2);
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[0], SIGUSR1}, Sig{p[1], SIGUSR1},
                                               Sig{p[0], SIGUSR2}, Sig{p[1], SIGUSR2}));
  EXPECT_FALSE(gang_.stopping());
  EXPECT_FALSE(gang_.deadline().has_value());
}

TEST_F(GangTest, OtherSignalsAreNotForwarded) {
  ASSERT_THAT(gang_.Start(Workers(1)), IsOk());
  gang_.OnSignal(SIGWINCH);
  gang_.OnSignal(SIGCHLD);
  EXPECT_THAT(launcher_.signals(), IsEmpty());
}

TEST_F(GangTest, SignalsSkipWorkersAlreadyReaped) {
  ASSERT_THAT(gang_.Start(Workers(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[0], ExitStatus::Exited(0));
  gang_.OnSignal(SIGUSR1);
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[1], SIGUSR1}));
}

TEST_F(GangTest, SpawnFailureKillsTheWorkersAlreadyStarted) {
  launcher_.FailSpawnOf("rank 2", absl::NotFoundError("spawn rank 2: execve /x: No such file"));
  EXPECT_THAT(gang_.Start(Workers(3)),
              StatusIs(absl::StatusCode::kNotFound, "spawn rank 2: execve /x: No such file"));
  const auto p = launcher_.pids();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_THAT(launcher_.signals(), ElementsAre(Sig{p[0], SIGKILL}, Sig{p[1], SIGKILL}));
  gang_.OnExit(p[0], ExitStatus::Signaled(SIGKILL));
  gang_.OnExit(p[1], ExitStatus::Signaled(SIGKILL));
  ASSERT_TRUE(gang_.finished());
  GangOutcome out = gang_.outcome();
  EXPECT_EQ(out.end, GangEnd::kSpawnFailed);
  EXPECT_EQ(DecideAfterAttempt(out, 0, 3).exit_code, 127);
  EXPECT_FALSE(DecideAfterAttempt(out, 0, 3).restart);
}

InPlacePolicy Policy(int budget) {
  InPlacePolicy p;
  p.budget = budget;
  p.window = absl::Seconds(30);
  p.replacement_spec = [](const SpawnSpec& failed) {
    SpawnSpec s = failed;
    s.env.push_back("FABRIC_RECOVERY_REPLACEMENT=1");
    return s;
  };
  return p;
}

TEST_F(GangTest, InPlaceStartsOnlyTheFailedWorkerAgainAndTheOthersKeepRunning) {
  gang_.EnableInPlace(Policy(1));
  ASSERT_THAT(gang_.Start(Workers(4)), IsOk());
  const std::vector<pid_t> first = launcher_.pids();
  ASSERT_TRUE(gang_.OnExit(first[2], ExitStatus::Signaled(SIGKILL)));
  EXPECT_THAT(launcher_.signals(), IsEmpty()) << "nobody else is stopped";
  EXPECT_FALSE(gang_.stopping());
  ASSERT_EQ(launcher_.spawned().size(), 5u);
  EXPECT_THAT(launcher_.spawned().back().env, ::testing::Contains("FABRIC_RECOVERY_REPLACEMENT=1"));
  const pid_t replacement = launcher_.pids().back();
  std::vector<Replacement> r = gang_.TakeReplacements();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].global_rank, 2);
  EXPECT_EQ(r[0].old_pid, first[2]);
  EXPECT_EQ(r[0].new_pid, replacement);
  EXPECT_EQ(r[0].status, ExitStatus::Signaled(SIGKILL));
  EXPECT_THAT(gang_.TakeReplacements(), IsEmpty());
  EXPECT_EQ(gang_.workers()[2].pid, replacement);
  for (pid_t pid : {first[0], first[1], replacement, first[3]}) {
    EXPECT_TRUE(gang_.OnExit(pid, ExitStatus::Exited(0)));
  }
  EXPECT_TRUE(gang_.finished());
  EXPECT_EQ(gang_.outcome().end, GangEnd::kSucceeded);
  EXPECT_EQ(gang_.replacements(), 1);
}

TEST_F(GangTest, InPlaceNeverReplacesRankZeroWhichServesTheStore) {
  gang_.EnableInPlace(Policy(3));
  ASSERT_THAT(gang_.Start(Workers(3)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[0], ExitStatus::Exited(1));
  EXPECT_TRUE(gang_.stopping());
  EXPECT_EQ(launcher_.spawned().size(), 3u);
  EXPECT_THAT(launcher_.signals(), UnorderedElementsAre(Sig{p[1], SIGTERM}, Sig{p[2], SIGTERM}));
}

TEST_F(GangTest, InPlaceStopsTheGangOnceTheBudgetIsSpent) {
  gang_.EnableInPlace(Policy(1));
  ASSERT_THAT(gang_.Start(Workers(3)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[1], ExitStatus::Exited(1));
  clock_.AdvanceTime(absl::Minutes(5));  // well past the window
  const pid_t replacement = launcher_.pids().back();
  gang_.OnExit(replacement, ExitStatus::Exited(1));
  EXPECT_TRUE(gang_.stopping());
  EXPECT_EQ(launcher_.spawned().size(), 4u);
  EXPECT_EQ(gang_.workers()[1].pid, replacement);
}

TEST_F(GangTest, InPlaceFailureWithinTheWindowOfAReplacementStopsTheGang) {
  gang_.EnableInPlace(Policy(5));
  ASSERT_THAT(gang_.Start(Workers(4)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[1], ExitStatus::Exited(1));
  ASSERT_FALSE(gang_.stopping());
  clock_.AdvanceTime(absl::Seconds(10));  // the survivors could not re-form: one of them fails
  gang_.OnExit(p[3], ExitStatus::Exited(1));
  EXPECT_TRUE(gang_.stopping());
  EXPECT_EQ(launcher_.spawned().size(), 5u) << "no second replacement";
}

TEST_F(GangTest, InPlaceAgainAfterTheWindow) {
  gang_.EnableInPlace(Policy(5));
  ASSERT_THAT(gang_.Start(Workers(4)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[1], ExitStatus::Exited(1));
  clock_.AdvanceTime(absl::Seconds(31));
  gang_.OnExit(p[3], ExitStatus::Exited(1));
  EXPECT_FALSE(gang_.stopping());
  EXPECT_EQ(gang_.replacements(), 2);
}

std::vector<SpawnSpec> Spares(int n) {
  std::vector<SpawnSpec> out;
  for (int i = 0; i < n; ++i) {
    SpawnSpec s;
    s.name = "spare " + std::to_string(i);
    s.argv = {"/bin/true"};
    out.push_back(s);
  }
  return out;
}

TEST_F(GangTest, ASpareTakesOverAFailedWorkerInsteadOfANewProcess) {
  InPlacePolicy policy = Policy(2);
  std::vector<std::pair<int, SpawnSpec>> activated;
  policy.activate_spare = [&](int index, const SpawnSpec& spec) {
    activated.emplace_back(index, spec);
    return absl::OkStatus();
  };
  gang_.EnableInPlace(std::move(policy));
  ASSERT_THAT(gang_.Start(Workers(3), Spares(1)), IsOk());
  const std::vector<pid_t> p = launcher_.pids();  // 3 workers, then the spare
  ASSERT_EQ(p.size(), 4u);
  gang_.OnExit(p[1], ExitStatus::Signaled(SIGKILL));
  EXPECT_EQ(launcher_.spawned().size(), 4u) << "no new process";
  ASSERT_EQ(activated.size(), 1u);
  EXPECT_EQ(activated[0].first, 0);
  EXPECT_THAT(activated[0].second.env, ::testing::Contains("FABRIC_RECOVERY_REPLACEMENT=1"));
  std::vector<Replacement> r = gang_.TakeReplacements();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].spare, 0);
  EXPECT_EQ(r[0].new_pid, p[3]);
  EXPECT_EQ(gang_.workers()[1].pid, p[3]);
  EXPECT_EQ(gang_.spares_waiting(), 0u);
  // The next failure (after the window) has no spare left: a new process.
  clock_.AdvanceTime(absl::Minutes(1));
  gang_.OnExit(p[2], ExitStatus::Exited(1));
  EXPECT_EQ(launcher_.spawned().size(), 5u);
  EXPECT_EQ(gang_.TakeReplacements().at(0).spare, -1);
}

TEST_F(GangTest, WaitingSparesAreKilledOnceEveryWorkerIsDone) {
  InPlacePolicy policy = Policy(1);
  policy.activate_spare = [](int, const SpawnSpec&) { return absl::OkStatus(); };
  gang_.EnableInPlace(std::move(policy));
  ASSERT_THAT(gang_.Start(Workers(2), Spares(2)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnExit(p[0], ExitStatus::Exited(0));
  EXPECT_THAT(launcher_.signals(), IsEmpty());
  gang_.OnExit(p[1], ExitStatus::Exited(0));
  EXPECT_THAT(launcher_.signals(), UnorderedElementsAre(Sig{p[2], SIGKILL}, Sig{p[3], SIGKILL}));
  EXPECT_FALSE(gang_.finished()) << "until the spares are reaped";
  gang_.OnExit(p[2], ExitStatus::Signaled(SIGKILL));
  gang_.OnExit(p[3], ExitStatus::Signaled(SIGKILL));
  EXPECT_TRUE(gang_.finished());
  EXPECT_EQ(gang_.outcome().end, GangEnd::kSucceeded);
  EXPECT_THAT(gang_.TakeSpareExits(), IsEmpty()) << "killed by us: not news";
}

TEST_F(GangTest, ASpareThatDiesWhileWaitingIsReportedAndChangesNothing) {
  InPlacePolicy policy = Policy(1);
  policy.activate_spare = [](int, const SpawnSpec&) { return absl::OkStatus(); };
  gang_.EnableInPlace(std::move(policy));
  ASSERT_THAT(gang_.Start(Workers(2), Spares(1)), IsOk());
  const auto p = launcher_.pids();
  EXPECT_TRUE(gang_.OnExit(p[2], ExitStatus::Exited(1)));
  EXPECT_FALSE(gang_.stopping());
  std::vector<SpareExit> exits = gang_.TakeSpareExits();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].pid, p[2]);
  // A worker failure now spawns a new process.
  gang_.OnExit(p[1], ExitStatus::Exited(1));
  EXPECT_EQ(launcher_.spawned().size(), 4u);
}

TEST_F(GangTest, AStopSignalsTheWaitingSparesToo) {
  InPlacePolicy policy = Policy(0);
  policy.activate_spare = [](int, const SpawnSpec&) { return absl::OkStatus(); };
  gang_.EnableInPlace(std::move(policy));
  ASSERT_THAT(gang_.Start(Workers(2), Spares(1)), IsOk());
  const auto p = launcher_.pids();
  gang_.OnSignal(SIGTERM);
  EXPECT_THAT(launcher_.signals(),
              UnorderedElementsAre(Sig{p[0], SIGTERM}, Sig{p[1], SIGTERM}, Sig{p[2], SIGTERM}));
}

}  // namespace
}  // namespace fabric::launcher
