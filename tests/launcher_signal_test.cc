// Integration tests: signals sent to the real fabric-run binary, and the
// no-orphans guarantee when fabric-run itself is SIGKILLed.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  EXPECT_THAT(run.err(), HasSubstr(absl::StrCat("received ", sig == SIGINT    ? "SIGINT"
                                                             : sig == SIGTERM ? "SIGTERM"
                                                             : sig == SIGQUIT ? "SIGQUIT"
                                                                              : "SIGHUP")));
  for (pid_t p : pids) EXPECT_TRUE(WaitGone(p, absl::Seconds(10)));
}

// SIGQUIT too: torchrun's default --signals-to-handle includes it.
INSTANTIATE_TEST_SUITE_P(Stop, SignalTest, ::testing::Values(SIGINT, SIGTERM, SIGHUP, SIGQUIT));

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

// nohup: SIGHUP ignored at start stays ignored (the "stray SIGHUP tears the gang
// down" problem). The SIGHUP case of SignalTest is the negative control.
TEST(LauncherSignalTest, SighupIgnoredAtStartIsNeitherForwardedNorFatal) {
  std::string dir = NewTempDir("nohup");
  FabricRun run({"--devices", "2", HelperPath(), "signals"}, {{"HELPER_DIR", dir}}, {SIGHUP});
  ASSERT_TRUE(run.WaitForOutput("[rank 0]: rank 0 ready")) << run.out();
  ASSERT_TRUE(run.WaitForOutput("[rank 1]: rank 1 ready")) << run.out();
  std::vector<pid_t> pids = WorkerPids(dir, 2);
  kill(run.pid(), SIGHUP);
  ASSERT_TRUE(run.WaitForOutput("ignoring SIGHUP", /*in_stderr=*/true)) << run.err();
  kill(pids[0], SIGHUP);  // workers inherited the ignore too
  kill(run.pid(), SIGUSR1);
  ASSERT_TRUE(run.WaitForOutput("[rank 0]: rank 0 got SIGUSR1")) << run.out();
  ASSERT_TRUE(run.WaitForOutput("[rank 1]: rank 1 got SIGUSR1")) << run.out();
  for (pid_t p : pids) EXPECT_TRUE(Alive(p));
  kill(run.pid(), SIGTERM);
  ASSERT_EQ(run.Wait(), 128 + SIGTERM) << run.err();
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
  // The agent's scratch directory (error files) exists now...
  std::string error_file = ReadFile(dir + "/errorfile_0.path");
  ASSERT_FALSE(error_file.empty());
  std::string scratch = error_file.substr(0, error_file.rfind('/'));
  struct stat st;
  ASSERT_EQ(stat(scratch.c_str(), &st), 0) << scratch;
  kill(run.pid(), SIGKILL);
  ASSERT_EQ(run.Wait(), 128 + SIGKILL);
  for (pid_t p : pids) EXPECT_TRUE(WaitGone(p, absl::Seconds(5))) << "pid " << p << " survived";
  // ... and the sentinel removed it.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stat(scratch.c_str(), &st) == 0 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_NE(stat(scratch.c_str(), &st), 0) << scratch << " left behind";
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
