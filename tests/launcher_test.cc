// Integration tests: the real fabric-run binary supervising real worker processes
// (tests/worker_helper). Environment, failures, restarts, output and CLI errors.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ENV lines -> rank -> {KEY: VALUE}, checking every line carries the rank prefix.
std::map<int, std::map<std::string, std::string>> ParseEnv(const std::string& out) {
  std::map<int, std::map<std::string, std::string>> env;
  std::regex re(R"(^\[rank (\d+)\]: ENV (\d+) ([^=]+)=(.*)$)");
  for (const std::string& line : Lines(out)) {
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    EXPECT_EQ(m[1], m[2]) << "prefix names the wrong rank: " << line;
    env[std::stoi(m[2])][m[3]] = m[4];
  }
  return env;
}

TEST(LauncherTest, EveryRankGetsTheWorkerEnvironment) {
  FabricRun run({"--devices", "4", "--run-id", "envjob", HelperPath(), "env"},
                {{"FABRIC_TEST_INHERITED", "yes"}});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  auto env = ParseEnv(run.out());
  ASSERT_EQ(env.size(), 4u) << run.out();
  std::set<std::string> error_files;
  const std::string port = env[0]["MASTER_PORT"];
  EXPECT_GT(std::stoi(port), 0);
  for (int r = 0; r < 4; ++r) {
    auto& e = env[r];
    const std::string rs = std::to_string(r);
    EXPECT_EQ(e["RANK"], rs);
    EXPECT_EQ(e["LOCAL_RANK"], rs);
    EXPECT_EQ(e["WORLD_SIZE"], "4");
    EXPECT_EQ(e["LOCAL_WORLD_SIZE"], "4");
    EXPECT_EQ(e["GROUP_RANK"], "0");
    EXPECT_EQ(e["GROUP_WORLD_SIZE"], "1");
    EXPECT_EQ(e["ROLE_NAME"], "default");
    EXPECT_EQ(e["ROLE_RANK"], rs);
    EXPECT_EQ(e["ROLE_WORLD_SIZE"], "4");
    EXPECT_EQ(e["MASTER_ADDR"], "127.0.0.1");
    EXPECT_EQ(e["MASTER_PORT"], port);
    EXPECT_EQ(e["TORCHELASTIC_RUN_ID"], "envjob");
    EXPECT_EQ(e["TORCHELASTIC_RESTART_COUNT"], "0");
    EXPECT_EQ(e["TORCHELASTIC_MAX_RESTARTS"], "0");
    EXPECT_FALSE(e["TORCHELASTIC_ERROR_FILE"].empty());
    error_files.insert(e["TORCHELASTIC_ERROR_FILE"]);
    EXPECT_EQ(e["OMP_NUM_THREADS"], "1");
    EXPECT_EQ(e["LT_CLI_USED"], "1");
    // Flags not given are not exported, as Lightning's `fabric run` does: a program's
    // own Fabric(strategy=...) must not meet a conflicting default.
    EXPECT_EQ(e.count("LT_ACCELERATOR"), 0u);
    EXPECT_EQ(e.count("LT_STRATEGY"), 0u);
    EXPECT_EQ(e["LT_DEVICES"], "4");
    EXPECT_EQ(e["LT_NUM_NODES"], "1");
    EXPECT_EQ(e.count("LT_PRECISION"), 0u);
    EXPECT_EQ(e["FABRIC_TEST_INHERITED"], "yes");
    EXPECT_EQ(e.count("CUDA_VISIBLE_DEVICES"), 0u);
  }
  EXPECT_EQ(error_files.size(), 4u);  // one per rank
}

TEST(LauncherTest, GivenLightningFlagsAreExported) {
  FabricRun run({"--devices", "2", "--accelerator", "cpu", "--strategy", "fsdp", "--precision",
                 "bf16", HelperPath(), "env"});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  auto env = ParseEnv(run.out());
  ASSERT_EQ(env.size(), 2u) << run.out();
  for (auto& [rank, e] : env) {
    EXPECT_EQ(e["LT_ACCELERATOR"], "cpu");
    EXPECT_EQ(e["LT_STRATEGY"], "fsdp");
    EXPECT_EQ(e["LT_PRECISION"], "bf16-mixed");
  }
}

TEST(LauncherTest, UserOmpNumThreadsIsKept) {
  FabricRun run({"--devices", "2", HelperPath(), "env"}, {{"OMP_NUM_THREADS", "5"}});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  auto env = ParseEnv(run.out());
  EXPECT_EQ(env[0]["OMP_NUM_THREADS"], "5");
  EXPECT_EQ(env[1]["OMP_NUM_THREADS"], "5");
}

TEST(LauncherTest, DeviceListSetsCudaVisibleDevices) {
  // CUDA_VISIBLE_DEVICES stands for 3 GPUs on this GPU-less machine.
  FabricRun run({"--devices", "0,2", HelperPath(), "env"}, {{"CUDA_VISIBLE_DEVICES", "0,1,2"}});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  auto env = ParseEnv(run.out());
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0]["CUDA_VISIBLE_DEVICES"], "0,2");
  EXPECT_EQ(env[1]["CUDA_VISIBLE_DEVICES"], "0,2");
  EXPECT_EQ(env[1]["LT_ACCELERATOR"], "cuda");
}

TEST(LauncherTest, CudaWithoutAGpuIsRefusedBeforeAnythingStarts) {
  // This machine has no GPU (skip where one exists: the refusal would not happen).
  if (access("/proc/driver/nvidia/gpus", F_OK) == 0) GTEST_SKIP() << "this machine has a GPU";
  std::string dir = NewTempDir("nogpu");
  FabricRun run({"--accelerator", "cuda", "--devices", "2", HelperPath(), "env"},
                {{"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 2) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("--accelerator: 'cuda' asks for CUDA, but this machine has "
                                   "no NVIDIA GPU"));
  EXPECT_EQ(Lines(run.err()).size(), 2u) << run.err();  // the error and the --help hint
  EXPECT_EQ(run.out(), "");                             // no worker ran
}

TEST(LauncherTest, FirstFailureStopsTheGangAndNamesTheRootCause) {
  std::string dir = NewTempDir("fail");
  FabricRun run({"--devices", "3", HelperPath(), "exit", "3", "1"}, {{"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 3) << run.err();
  const std::string err = run.err();
  EXPECT_THAT(err, HasSubstr("root cause: rank 1 (node 0, local rank 1"));
  EXPECT_THAT(err, HasSubstr("exited with exit code 3"));
  EXPECT_THAT(err, HasSubstr("last 10 lines of rank 1's stderr"));
  EXPECT_THAT(err, HasSubstr("| rank 1 stderr line 12"));
  EXPECT_THAT(err, HasSubstr("| rank 1 stderr line 3\n"));
  EXPECT_THAT(err, Not(HasSubstr("| rank 1 stderr line 2\n")));  // only the last 10
  EXPECT_THAT(err, Not(HasSubstr("OOM")));
  EXPECT_THAT(err, HasSubstr("other ranks: rank 0 signal SIGTERM (15) after our SIGTERM; "
                             "rank 2 signal SIGTERM (15) after our SIGTERM"));
  // The sleeping ranks were stopped, not left behind.
  for (int r : {0, 2}) {
    pid_t pid = WaitForPidFile(dir, "worker", r);
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(WaitGone(pid, absl::Seconds(10))) << "rank " << r;
  }
}

TEST(LauncherTest, SegfaultIsReportedBySignalName) {
  FabricRun run({"--devices", "2", HelperPath(), "segv", "0"});
  ASSERT_EQ(run.Wait(), 128 + SIGSEGV) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("root cause: rank 0"));
  EXPECT_THAT(run.err(), HasSubstr("was killed by signal SIGSEGV (11)"));
  EXPECT_THAT(run.err(), HasSubstr("| rank 0 about to crash"));
}

TEST(LauncherTest, SigkillNotSentByUsHintsAtTheOomKiller) {
  FabricRun run({"--devices", "2", HelperPath(), "sigkill", "1"});
  ASSERT_EQ(run.Wait(), 128 + SIGKILL) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("rank 1"));
  EXPECT_THAT(run.err(), HasSubstr("SIGKILL"));
  EXPECT_THAT(run.err(), HasSubstr("OOM killer"));
}

TEST(LauncherTest, WorkersIgnoringSigtermAreKilledAfterTheGracePeriod) {
  std::string dir = NewTempDir("grace");
  FabricRun run({"--devices", "3", "--grace-period", "1s", HelperPath(), "exit", "4", "0",
                 "others_ignore_term"},
                {{"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(absl::Seconds(60)), 4) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("root cause: rank 0"));
  EXPECT_THAT(run.err(), HasSubstr("rank 1 signal SIGKILL (9) after our SIGKILL"));
  for (int r : {1, 2}) {
    pid_t pid = WaitForPidFile(dir, "worker", r);
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(WaitGone(pid, absl::Seconds(10)));
  }
}

// Waiting is never silent: a grace period longer than 2 s says, on the wait schedule, who
// is still there and when SIGKILL comes; a stop within 2 s says nothing (the test above).
TEST(LauncherTest, ALongGracePeriodSaysWhoItWaitsFor) {
  std::string dir = NewTempDir("grace_lines");
  FabricRun run({"--devices", "2", "--grace-period", "5s", HelperPath(), "exit", "4", "0",
                 "others_ignore_term"},
                {{"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(absl::Seconds(60)), 4) << run.err();
  const pid_t rank1 = WaitForPidFile(dir, "worker", 1);
  EXPECT_THAT(run.err(), HasSubstr(absl::StrCat(
                             "fabric-run: stopping: waiting for 1 worker to exit (rank 1 pid ",
                             rank1, "), 2s since SIGTERM; SIGKILL in 3s (--grace-period)")));
  EXPECT_THAT(run.err(), HasSubstr("4s since SIGTERM; SIGKILL in 1s"));
  EXPECT_THAT(run.err(), Not(HasSubstr("6s since SIGTERM"))) << "no line after the wait ended";
}

TEST(LauncherTest, RestartsTheGangWithANewPortUntilItSucceeds) {
  std::string logs = NewTempDir("restart_logs");
  FabricRun run({"--devices", "2", "--max-restarts", "3", "--log-dir", logs, "--run-id", "rs",
                 HelperPath(), "fail_until", "2", "5"});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  std::map<int, std::set<std::string>> ports;  // attempt -> ports seen
  std::regex re(R"(^\[rank \d\]: attempt (\d+) port (\d+)$)");
  for (const std::string& line : Lines(run.out())) {
    std::smatch m;
    if (std::regex_match(line, m, re)) ports[std::stoi(m[1])].insert(m[2]);
  }
  ASSERT_EQ(ports.size(), 3u) << run.out();  // attempts 0, 1, 2
  std::set<std::string> all;
  for (auto& [attempt, p] : ports) {
    EXPECT_EQ(p.size(), 1u) << "every rank of attempt " << attempt << " shares one port";
    all.insert(p.begin(), p.end());
  }
  EXPECT_EQ(all.size(), 3u) << "a new MASTER_PORT per attempt";
  EXPECT_THAT(run.err(), HasSubstr("restarting the whole gang"));
  for (int a = 0; a < 3; ++a) {
    EXPECT_THAT(ReadFile(absl::StrCat(logs, "/rs/attempt_", a, "/rank_0.stdout.log")),
                HasSubstr(absl::StrCat("attempt ", a)));
  }
}

TEST(LauncherTest, SpentRestartBudgetExitsWithTheRootCauseStatus) {
  FabricRun run({"--devices", "2", "--max-restarts", "1", HelperPath(), "fail_until", "9", "6"});
  ASSERT_EQ(run.Wait(), 6) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("attempt 1 port"));
  EXPECT_THAT(run.out(), Not(HasSubstr("attempt 2 port")));
  EXPECT_THAT(run.err(), HasSubstr("restarting the whole gang"));
  EXPECT_THAT(run.err(), HasSubstr("no restarts left"));
}

TEST(LauncherTest, ErrorFileMessageIsInTheReport) {
  FabricRun run({"--devices", "2", HelperPath(), "error_file", "ValueError: bad batch"});
  ASSERT_EQ(run.Wait(), 1) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("error file: ValueError: bad batch"));
  EXPECT_THAT(run.err(), HasSubstr("| trace line 12"));
}

TEST(LauncherTest, ManyLinesFromManyWorkersAreNeverCutOrMixed) {
  const int kLines = 10000;
  FabricRun run({"--devices", "4", HelperPath(), "lines", std::to_string(kLines)});
  ASSERT_EQ(run.Wait(absl::Seconds(240)), 0) << run.err();
  const std::string pad(64, 'x');
  std::regex re(R"(^\[rank (\d)\]: rank (\d) line (\d+) (x+)$)");
  std::vector<int> next(4, 0);
  int bad = 0;
  for (const std::string& line : Lines(run.out())) {
    std::smatch m;
    if (!std::regex_match(line, m, re) || m[1] != m[2] ||
        static_cast<size_t>(m[4].length()) != pad.size()) {
      if (++bad < 5) ADD_FAILURE() << "cut or mixed line: " << line.substr(0, 200);
      continue;
    }
    int r = std::stoi(m[1]);
    EXPECT_EQ(std::stoi(m[3]), next[r]) << "rank " << r << " out of order";
    next[r] = std::stoi(m[3]) + 1;
  }
  EXPECT_EQ(bad, 0);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(next[r], kLines) << "rank " << r;
}

TEST(LauncherTest, PartialLastLineIsFlushedAtExit) {
  FabricRun run({"--devices", "1", HelperPath(), "partial"});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  EXPECT_EQ(run.out(), "[rank 0]: no newline at end\n");
}

TEST(LauncherTest, LogFilesGetEveryRankWhileTheConsoleShowsTheChosenOnes) {
  std::string logs = NewTempDir("logs");
  FabricRun run({"--devices", "3", "--log-dir", logs, "--run-id", "lg", "--console-ranks", "1",
                 HelperPath(), "lines", "5"});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("[rank 1]: rank 1 line 4"));
  EXPECT_THAT(run.out(), Not(HasSubstr("[rank 0]")));  // negative control for the filter
  EXPECT_THAT(run.out(), Not(HasSubstr("[rank 2]")));
  for (int r = 0; r < 3; ++r) {
    std::string f = ReadFile(absl::StrCat(logs, "/lg/attempt_0/rank_", r, ".stdout.log"));
    EXPECT_EQ(Lines(f).size(), 5u) << "rank " << r;
    EXPECT_THAT(f, HasSubstr(absl::StrCat("rank ", r, " line 0")));
    struct stat st;
    EXPECT_EQ(stat(absl::StrCat(logs, "/lg/attempt_0/rank_", r, ".stderr.log").c_str(), &st), 0);
  }
}

TEST(LauncherTest, BadCommandLineExits2AndSpawnsNothing) {
  std::string dir = NewTempDir("badcli");
  FabricRun run({"--devices", "0", HelperPath(), "sleep"}, {{"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 2);
  EXPECT_THAT(run.err(), HasSubstr("fabric-run: "));
  EXPECT_THAT(run.err(), HasSubstr("--devices"));
  EXPECT_THAT(run.err(), HasSubstr("--help"));
  EXPECT_EQ(WaitForPidFile(dir, "worker", 0, absl::Milliseconds(300)), -1);
}

// Workers lead background process groups: reading an interactive terminal would
// stop them with SIGTTIN and hang the job. With a terminal as stdin they read
// /dev/null (EOF) instead.
TEST(LauncherTest, WorkersDoNotHangReadingTheTerminal) {
  FabricRun run({"--devices", "2", HelperPath(), "read_stdin"}, {}, {}, /*terminal=*/true);
  ASSERT_EQ(run.Wait(absl::Seconds(60)), 0) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("[rank 0]: rank 0 stdin read returned 0"));
  EXPECT_THAT(run.out(), HasSubstr("[rank 1]: rank 1 stdin read returned 0"));
}

TEST(LauncherTest, UnusableLogDirIsASetupErrorAndSpawnsNothing) {
  std::string dir = NewTempDir("badlog");
  std::string file = dir + "/a-file";
  fclose(fopen(file.c_str(), "w"));
  FabricRun run({"--devices", "2", "--log-dir", file + "/logs", HelperPath(), "sleep"},
                {{"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 1) << run.err();
  EXPECT_THAT(run.err(),
              HasSubstr("fabric-run: create log directory " + file + "/logs: Not a directory"));
  EXPECT_EQ(WaitForPidFile(dir, "worker", 0, absl::Milliseconds(300)), -1);
}

TEST(LauncherTest, ExecFailureNamesTheRankAndTheError) {
  std::string dir = NewTempDir("badexec");
  std::string prog = dir + "/not-a-binary";
  {
    FILE* f = fopen(prog.c_str(), "w");
    fputs(
        "\x7f"
        "ELF garbage",
        f);
    fclose(f);
    chmod(prog.c_str(), 0755);
  }
  FabricRun run({"--devices", "2", prog});
  ASSERT_EQ(run.Wait(), 126) << run.err();
  EXPECT_THAT(run.err(),
              HasSubstr(absl::StrCat("spawn rank 0: execve ", prog, ": Exec format error")));
}

}  // namespace
}  // namespace fabric::testing
