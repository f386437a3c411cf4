// Integration tests: signals sent to the real fabric-run binary, and the
// no-orphans guarantee when fabric-run itself is SIGKILLed.
#include <signal.h>
#include <sys/prctl.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;

std::vector<pid_t> WorkerPids(const std::string& dir, int n) {
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pid_t pid = WaitForPidFile(dir, "worker", r);
    EXPECT_GT(pid, 0) << "rank " << r << " never started";
    pids.push_back(pid);
  }
  return pids;
}

class SignalTest : public ::testing::TestWithParam<int> {};

TEST_P(SignalTest, StopSignalIsForwardedAndExitStatusIs128PlusSignal) {
  const int sig = GetParam();
  std::string dir = NewTempDir("sig");
  FabricRun run({"--devices", "2", HelperPath(), "sleep"}, {{"HELPER_DIR", dir}});
  std::vector<pid_t> pids = WorkerPids(dir, 2);
  for (pid_t p : pids) ASSERT_TRUE(Alive(p));  // negative control
  kill(run.pid(), sig);
  ASSERT_EQ(run.Wait(), 128 + sig) << run.err();
  EXPECT_THAT(run.err(), HasSubstr(absl::StrCat("received ", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP")));
  for (pid_t p : pids) EXPECT_TRUE(WaitGone(p, absl::Seconds(10)));
}

INSTANTIATE_TEST_SUITE_P(Stop, SignalTest, ::testing::Values(SIGINT, SIGTERM, SIGHUP));

TEST(LauncherSignalTest, SigtermEscalatesToSigkillAfterTheGracePeriod) {
  std::string dir = NewTempDir("esc");
  FabricRun run({"--devices", "2", "--grace-period", "1s", HelperPath(), "ignore_term"},
                {{"HELPER_DIR", dir}});
  std::vector<pid_t> pids = WorkerPids(dir, 2);
  kill(run.pid(), SIGTERM);
  ASSERT_EQ(run.Wait(absl::Seconds(60)), 128 + SIGTERM) << run.err();
  for (pid_t p : pids) EXPECT_TRUE(WaitGone(p, absl::Seconds(10)));
}

TEST(LauncherSignalTest, Sigusr1AndSigusr2AreForwardedAndWorkersKeepRunning) {
  FabricRun run({"--devices", "2", HelperPath(), "signals"});
  ASSERT_TRUE(run.WaitForOutput("[rank 0]: rank 0 ready")) << run.out();
  ASSERT_TRUE(run.WaitForOutput("[rank 1]: rank 1 ready")) << run.out();
  kill(run.pid(), SIGUSR1);
  ASSERT_TRUE(run.WaitForOutput("[rank 0]: rank 0 got SIGUSR1")) << run.out();
  ASSERT_TRUE(run.WaitForOutput("[rank 1]: rank 1 got SIGUSR1")) << run.out();
  kill(run.pid(), SIGUSR2);
  ASSERT_TRUE(run.WaitForOutput("[rank 0]: rank 0 got SIGUSR2")) << run.out();
  ASSERT_TRUE(run.WaitForOutput("[rank 1]: rank 1 got SIGUSR2")) << run.out();
  EXPECT_THAT(run.out(), ::testing::Not(HasSubstr("SIGTERM")));  // still running
  kill(run.pid(), SIGTERM);
  ASSERT_EQ(run.Wait(), 128 + SIGTERM) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("[rank 0]: rank 0 got SIGTERM"));
  EXPECT_THAT(run.out(), HasSubstr("[rank 1]: rank 1 got SIGTERM"));
}

TEST(LauncherSignalTest, SigkilledAgentLeavesNoWorkerOrGrandchild) {
  // Orphans would otherwise go to init; as subreaper we can reap what dies.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string dir = NewTempDir("orphans");
  FabricRun run({"--devices", "2", HelperPath(), "grandchild"}, {{"HELPER_DIR", dir}});
  std::vector<pid_t> pids = WorkerPids(dir, 2);
  for (int r = 0; r < 2; ++r) {
    pid_t g = WaitForPidFile(dir, "grandchild", r);
    ASSERT_GT(g, 0);
    pids.push_back(g);
  }
  for (pid_t p : pids) ASSERT_TRUE(Alive(p)) << p;  // negative control: all alive before
  kill(run.pid(), SIGKILL);
  ASSERT_EQ(run.Wait(), 128 + SIGKILL);
  for (pid_t p : pids) EXPECT_TRUE(WaitGone(p, absl::Seconds(5))) << "pid " << p << " survived";
}

TEST(LauncherSignalTest, GrandchildIsKilledWhenItsWorkerFails) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string dir = NewTempDir("gc_fail");
  FabricRun run({"--devices", "1", "--grace-period", "1s", HelperPath(), "grandchild"},
                {{"HELPER_DIR", dir}});
  pid_t worker = WaitForPidFile(dir, "worker", 0);
  pid_t grandchild = WaitForPidFile(dir, "grandchild", 0);
  ASSERT_TRUE(Alive(grandchild));
  kill(worker, SIGKILL);  // the worker dies; its child must not outlive it
  ASSERT_EQ(run.Wait(), 128 + SIGKILL) << run.err();
  EXPECT_TRUE(WaitGone(grandchild, absl::Seconds(5)));
}

}  // namespace
}  // namespace fabric::testing
