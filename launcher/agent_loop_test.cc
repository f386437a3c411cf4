// Agent::Run's one loop on a single node with fakes only: a scripted ProcessLauncher
// (no process is started; an "exit" is queued and SIGCHLD raised, which the blocked
// signal mask turns into a signalfd event exactly as a real child's would) and the
// agent's own LocalCoordinator. Covers: success, restarts within the budget then the
// root cause's status, no restart for a spawn error, a stop signal forwarded to every
// worker group, and the report naming the root cause.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/agent.h"
#include "launcher/fake_gpu_process_query.h"
#include "launcher/process_launcher.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Workers "exit" as a script says: `on_spawn(spawn index, spec)` returns the status the
// worker exits with at once, or nullopt to keep it running until it is signalled (then
// it dies of that signal). Every queued exit raises SIGCHLD.
class ScriptedLauncher final : public ProcessLauncher {
 public:
  std::function<std::optional<ExitStatus>(int, const SpawnSpec&)> on_spawn;
  std::function<absl::Status(const SpawnSpec&)> spawn_error;  // optional

  absl::StatusOr<Child> Spawn(const SpawnSpec& spec) override {
    if (spawn_error) {
      absl::Status st = spawn_error(spec);
      if (!st.ok()) return st;
    }
    const pid_t pid = next_pid_++;
    specs[pid] = spec;
    const int index = spawns++;
    if (std::optional<ExitStatus> st = on_spawn(index, spec)) QueueExit(pid, *st);
    return Child{pid, pid};
  }
  absl::Status SignalGroup(pid_t pgid, int sig) override {
    signals.push_back({pgid, sig});
    if (clock != nullptr) signal_times.push_back(clock->TimeNow());
    if (ignored.count(sig) != 0) return absl::OkStatus();
    if (!Exited(pgid)) QueueExit(pgid, ExitStatus::Signaled(sig));
    return absl::OkStatus();
  }
  // A scripted worker is one process: signalling it is signalling its group.
  absl::Status SignalProcess(pid_t pid, int sig) override { return SignalGroup(pid, sig); }
  void ReleaseGroup(pid_t) override {}
  std::optional<Reaped> ReapAny() override {
    if (exits_.empty()) return std::nullopt;
    Reaped r = exits_.front();
    exits_.erase(exits_.begin());
    return r;
  }
  int KillAdopted() override { return 0; }

  int spawns = 0;
  std::map<pid_t, SpawnSpec> specs;
  std::vector<std::pair<pid_t, int>> signals;
  std::set<int> ignored;   // signals the workers survive (not SIGKILL)
  Clock* clock = nullptr;  // when set: signal_times[i] is signals[i]'s
  std::vector<absl::Time> signal_times;

 private:
  bool Exited(pid_t pid) const { return exited_.count(pid) != 0; }
  void QueueExit(pid_t pid, ExitStatus st) {
    exited_[pid] = true;
    exits_.push_back(Reaped{pid, st});
    raise(SIGCHLD);
  }
  pid_t next_pid_ = 50000;
  std::map<pid_t, bool> exited_;
  std::vector<Reaped> exits_;
};

// A fake clock that moves on by `step` each time it is read: the agent's deadlines
// pass in fake time while the test runs in milliseconds. It starts in 2001, so the
// agent's timerfd (armed at absolute fake times) is always due at once.
class SteppingClock final : public Clock {
 public:
  explicit SteppingClock(absl::Duration step) : step_(step) {}
  absl::Time TimeNow() override { return now_ += step_; }
  void SleepFor(absl::Duration d) override { now_ += d; }

 private:
  absl::Duration step_;
  absl::Time now_ = absl::FromUnixSeconds(1000000000);
};

std::string Env(const SpawnSpec& spec, const std::string& key) {
  for (const std::string& kv : spec.env) {
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
  }
  return "";
}

class AgentLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t old;
    BlockAgentSignals(&old);
    err_path_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".err";
  }
  int Run(int devices, int max_restarts, absl::Duration grace = absl::Seconds(5)) {
    AgentOptions o;
    o.gpu_query = gpu_query_;
    o.launch.devices = devices;
    o.launch.max_restarts = max_restarts;
    o.launch.grace_period = grace;
    o.clock = clock_;
    o.launch.exec_argv = {"/nonexistent/train"};  // never exec'd: the launcher is a fake
    o.inherited_env = {{"PATH", "/usr/bin:/bin"}};
    sigemptyset(&o.worker_sigmask);
    sigemptyset(&o.ignored_at_start);
    const int fd = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    o.console_stdout = fd;
    o.console_stderr = fd;
    o.process_launcher = &launcher_;
    o.drain_timeout = absl::Milliseconds(100);
    auto agent = Agent::Create(std::move(o));
    EXPECT_TRUE(agent.ok()) << agent.status();
    const int code = agent.ok() ? (*agent)->Run() : -1;
    close(fd);
    return code;
  }
  std::string Err() {
    std::ifstream f(err_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  ScriptedLauncher launcher_;
  Clock* clock_ = nullptr;                // null: the real clock
  GpuProcessQuery* gpu_query_ = nullptr;  // null: NVML when present
  std::string err_path_;
};

TEST_F(AgentLoopTest, EveryWorkerSucceedsExitZeroOneAttempt) {
  launcher_.on_spawn = [](int, const SpawnSpec&) { return ExitStatus::Exited(0); };
  EXPECT_EQ(Run(/*devices=*/3, /*max_restarts=*/2), 0) << Err();
  EXPECT_EQ(launcher_.spawns, 3);
  std::vector<std::string> ranks;
  for (const auto& [pid, spec] : launcher_.specs) ranks.push_back(Env(spec, "RANK"));
  EXPECT_THAT(ranks, ::testing::ElementsAre("0", "1", "2"));
  EXPECT_THAT(Err(), Not(HasSubstr("failed")));
}

TEST_F(AgentLoopTest, FailuresRestartTheGangUntilTheBudgetIsSpentThenExitWithTheRootCause) {
  // Rank 1 always exits 7; rank 0 runs until it is stopped.
  launcher_.on_spawn = [](int, const SpawnSpec& spec) -> std::optional<ExitStatus> {
    if (Env(spec, "LOCAL_RANK") == "1") return ExitStatus::Exited(7);
    return std::nullopt;
  };
  EXPECT_EQ(Run(2, /*max_restarts=*/2), 7) << Err();
  EXPECT_EQ(launcher_.spawns, 6);  // three attempts of two workers
  std::vector<std::string> restarts;
  for (const auto& [pid, spec] : launcher_.specs) {
    if (Env(spec, "LOCAL_RANK") == "0") restarts.push_back(Env(spec, "TORCHELASTIC_RESTART_COUNT"));
  }
  EXPECT_THAT(restarts, ::testing::ElementsAre("0", "1", "2"));
  // Rank 0 of every attempt was asked to stop (SIGTERM to its group).
  int sigterms = 0;
  for (const auto& [pgid, sig] : launcher_.signals) sigterms += sig == SIGTERM;
  EXPECT_EQ(sigterms, 3);
  const std::string err = Err();
  EXPECT_THAT(err, HasSubstr("attempt 3 of at most 3"));
  EXPECT_THAT(err, HasSubstr("exited with exit code 7"));
  EXPECT_THAT(err, HasSubstr("root cause: rank 1 (node 0, local rank 1, pid "));
}

TEST_F(AgentLoopTest, ASpawnErrorIsNotRetried) {
  launcher_.on_spawn = [](int, const SpawnSpec&) { return ExitStatus::Exited(0); };
  launcher_.spawn_error = [](const SpawnSpec& spec) {
    return spec.name == "rank 1" ? absl::NotFoundError(
                                       "spawn rank 1: execve /nonexistent/train: "
                                       "No such file or directory")
                                 : absl::OkStatus();
  };
  EXPECT_EQ(Run(2, /*max_restarts=*/3), 127) << Err();
  EXPECT_EQ(launcher_.spawns, 1);  // rank 0 of the only attempt
  EXPECT_THAT(Err(), HasSubstr("No such file or directory"));
}

TEST_F(AgentLoopTest, AStopSignalIsForwardedToEveryWorkerAndTheAgentExits128PlusIt) {
  // Workers run until signalled; the second spawn is when the "user" presses Ctrl-C.
  launcher_.on_spawn = [](int index, const SpawnSpec&) -> std::optional<ExitStatus> {
    if (index == 1) raise(SIGINT);
    return std::nullopt;
  };
  EXPECT_EQ(Run(2, /*max_restarts=*/3), 128 + SIGINT) << Err();
  EXPECT_EQ(launcher_.spawns, 2);  // no restart after an interrupt
  int sigints = 0;
  for (const auto& [pgid, sig] : launcher_.signals) sigints += sig == SIGINT;
  EXPECT_EQ(sigints, 2);
  EXPECT_THAT(Err(), HasSubstr("received SIGINT"));
}

TEST_F(AgentLoopTest, TheGracePeriodBeforeSigkillRunsOnTheInjectedClock) {
  // Rank 1 exits 3; rank 0 survives SIGTERM. With a one-hour grace period on the real
  // clock this test would take an hour: the deadline is the injected clock's.
  SteppingClock clock(absl::Seconds(1));
  clock_ = &clock;
  launcher_.clock = &clock;
  launcher_.ignored = {SIGTERM};
  launcher_.on_spawn = [](int, const SpawnSpec& spec) -> std::optional<ExitStatus> {
    if (Env(spec, "LOCAL_RANK") == "1") return ExitStatus::Exited(3);
    return std::nullopt;
  };
  EXPECT_EQ(Run(2, /*max_restarts=*/0, /*grace=*/absl::Hours(1)), 3) << Err();
  ASSERT_EQ(launcher_.signals.size(), 2u) << Err();
  EXPECT_EQ(launcher_.signals[0].second, SIGTERM);
  EXPECT_EQ(launcher_.signals[1].second, SIGKILL);
  EXPECT_EQ(launcher_.signals[0].first, launcher_.signals[1].first);  // rank 0's group
  const absl::Duration waited = launcher_.signal_times[1] - launcher_.signal_times[0];
  EXPECT_GE(waited, absl::Hours(1));
  EXPECT_LT(waited, absl::Hours(1) + absl::Minutes(1));  // not long after it either
}

// The GPU wait's query, recording how many workers had been spawned at each query (the
// wait must come before the next attempt's spawns) and optionally raising a signal.
class RecordingGpuQuery final : public GpuProcessQuery {
 public:
  RecordingGpuQuery(FakeGpuProcessQuery* fake, const ScriptedLauncher* launcher)
      : fake_(fake), launcher_(launcher) {}
  absl::StatusOr<std::vector<std::vector<pid_t>>> PidsByDevice() override {
    spawns_at_query.push_back(launcher_->spawns);
    if (raise_at_query > 0 && static_cast<int>(spawns_at_query.size()) == raise_at_query) {
      raise(SIGINT);
    }
    return fake_->PidsByDevice();
  }
  std::vector<int> spawns_at_query;
  int raise_at_query = 0;  // > 0: SIGINT to the agent at this query

 private:
  FakeGpuProcessQuery* fake_;
  const ScriptedLauncher* launcher_;
};

// Attempt 1: rank 1 (pid 50001) exits 7, rank 0 (pid 50000) runs until stopped;
// attempt 2: both succeed.
std::optional<ExitStatus> FailOnceThenSucceed(int index, const SpawnSpec& spec) {
  if (index >= 2) return ExitStatus::Exited(0);
  if (Env(spec, "LOCAL_RANK") == "1") return ExitStatus::Exited(7);
  return std::nullopt;
}

TEST_F(AgentLoopTest, BeforeARestartTheAgentWaitsUntilTheDeadWorkersFreeTheirGpus) {
  FakeGpuProcessQuery fake(/*gpus=*/2);
  fake.Hold(50001, /*gpu=*/1, /*queries=*/3);
  fake.Hold(777, /*gpu=*/0, FakeGpuProcessQuery::kForever);  // not ours: never waited for
  RecordingGpuQuery query(&fake, &launcher_);
  gpu_query_ = &query;
  launcher_.on_spawn = FailOnceThenSucceed;
  EXPECT_EQ(Run(2, /*max_restarts=*/1), 0) << Err();
  EXPECT_EQ(launcher_.spawns, 4);
  // Three queries saw it, the fourth did not; all of them before attempt 2's spawns.
  EXPECT_THAT(query.spawns_at_query, ::testing::ElementsAre(2, 2, 2, 2));
  const std::string err = Err();
  EXPECT_THAT(err, HasSubstr("fabric-run: pid 50001 (a worker of the last attempt) still holds "
                             "memory on GPU 1; waiting up to 10s for it to be freed before the "
                             "next attempt\n"));
  EXPECT_THAT(err, HasSubstr("fabric-run: the last attempt's GPU memory was freed after "));
  EXPECT_THAT(err, Not(HasSubstr("777")));
}

TEST_F(AgentLoopTest, AGpuNeverFreedIsWaitedForAtMostTheTimeoutThenTheNextAttemptStarts) {
  SteppingClock clock(absl::Seconds(1));
  clock_ = &clock;
  FakeGpuProcessQuery fake(/*gpus=*/1);
  fake.Hold(50001, /*gpu=*/0, FakeGpuProcessQuery::kForever);
  RecordingGpuQuery query(&fake, &launcher_);
  gpu_query_ = &query;
  launcher_.on_spawn = FailOnceThenSucceed;
  EXPECT_EQ(Run(2, /*max_restarts=*/1), 0) << Err();
  EXPECT_EQ(launcher_.spawns, 4);
  // Bounded: 10 s of a clock that moves on by at least 1 s a query.
  EXPECT_GE(query.spawns_at_query.size(), 2u);
  EXPECT_LE(query.spawns_at_query.size(), 11u);
  const std::string err = Err();
  EXPECT_THAT(err, HasSubstr("still holds memory on GPU 0; waiting up to 10s"));
  EXPECT_THAT(err, HasSubstr("fabric-run: pid 50001 (a worker of the last attempt) still holds "
                             "memory on GPU 0 after 10s; starting the next attempt anyway (it may "
                             "run out of GPU memory)\n"));
}

TEST_F(AgentLoopTest, AStopSignalWhileWaitingForTheGpusEndsTheJobWithoutAnotherAttempt) {
  FakeGpuProcessQuery fake(/*gpus=*/1);
  fake.Hold(50001, /*gpu=*/0, FakeGpuProcessQuery::kForever);
  RecordingGpuQuery query(&fake, &launcher_);
  query.raise_at_query = 2;
  gpu_query_ = &query;
  launcher_.on_spawn = FailOnceThenSucceed;
  EXPECT_EQ(Run(2, /*max_restarts=*/1), 128 + SIGINT) << Err();
  EXPECT_EQ(launcher_.spawns, 2);
  EXPECT_THAT(Err(), HasSubstr("received SIGINT"));
}

TEST_F(AgentLoopTest, NoGpuWaitAfterASuccessNorWhenTheQueryFails) {
  FakeGpuProcessQuery fake(/*gpus=*/1);
  RecordingGpuQuery query(&fake, &launcher_);
  gpu_query_ = &query;
  launcher_.on_spawn = [](int, const SpawnSpec&) { return ExitStatus::Exited(0); };
  EXPECT_EQ(Run(2, /*max_restarts=*/1), 0) << Err();
  EXPECT_TRUE(query.spawns_at_query.empty());

  fake.FailQueries(true);
  launcher_ = ScriptedLauncher();
  launcher_.on_spawn = FailOnceThenSucceed;
  EXPECT_EQ(Run(2, /*max_restarts=*/1), 0) << Err();
  EXPECT_EQ(launcher_.spawns, 4);
  EXPECT_THAT(Err(), HasSubstr("fabric-run: warning: cannot tell whether the last attempt's "
                               "workers freed their GPUs (fake NVML error); starting the next "
                               "attempt\n"));
}

// Without libnvidia-ml (this machine), the wait is skipped without a word.
TEST_F(AgentLoopTest, WithoutNvmlARestartDoesNotWaitNorSayAnythingOfGpus) {
  if (LoadNvmlGpuProcessQuery() != nullptr) GTEST_SKIP() << "NVML is present here";
  launcher_.on_spawn = FailOnceThenSucceed;
  EXPECT_EQ(Run(2, /*max_restarts=*/1), 0) << Err();
  EXPECT_EQ(launcher_.spawns, 4);
  EXPECT_THAT(Err(), Not(HasSubstr("GPU")));
}

}  // namespace
}  // namespace fabric::launcher
