#include "launcher/posix_process_launcher.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<PosixProcessLauncher> MakeLauncher() {
  PosixProcessLauncherOptions o;
  sigemptyset(&o.child_sigmask);
  sigemptyset(&o.keep_ignored);
  o.subreaper = false;
  auto l = PosixProcessLauncher::Create(o);
  EXPECT_TRUE(l.ok()) << l.status();
  return std::move(*l);
}

// Reaps until `pid` shows up (generous deadline; the machine may be loaded).
std::optional<ExitStatus> WaitFor(PosixProcessLauncher& l, pid_t pid) {
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    while (std::optional<Reaped> r = l.ReapAny()) {
      if (r->pid == pid) return r->status;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return std::nullopt;
}

SpawnSpec Spec(std::vector<std::string> argv) {
  SpawnSpec s;
  s.name = "rank 3";
  s.argv = std::move(argv);
  s.env = {"PATH=/usr/bin:/bin"};
  return s;
}

TEST(PosixProcessLauncherTest, SpawnsInItsOwnProcessGroupAndReapsExitCode) {
  auto l = MakeLauncher();
  FABRIC_ASSERT_OK_AND_ASSIGN(Child c, l->Spawn(Spec({"sh", "-c", "exit 7"})));
  EXPECT_EQ(c.pgid, c.pid);
  EXPECT_NE(c.pgid, getpgrp());
  EXPECT_EQ(WaitFor(*l, c.pid), ExitStatus::Exited(7));
}

// A worker's setsid'd grandchild outlives it and is adopted by the (subreaper) agent:
// KillAdopted kills it and what it started in its own group; with nothing adopted it
// kills nothing (negative control).
TEST(PosixProcessLauncherTest, KillAdoptedKillsWhatWorkersLeftBehind) {
  PosixProcessLauncherOptions o;
  sigemptyset(&o.child_sigmask);
  sigemptyset(&o.keep_ignored);
  o.subreaper = true;
  o.orphan_sentinel = false;
  FABRIC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PosixProcessLauncher> l,
                              PosixProcessLauncher::Create(o));
  EXPECT_EQ(l->KillAdopted(), 0);
  const std::string file = ::testing::TempDir() + "/adopted.pid";
  FABRIC_ASSERT_OK_AND_ASSIGN(Child c,
                              l->Spawn(Spec({"sh", "-c",
                                             "setsid sh -c 'sleep 300 & wait' & echo $! > " + file +
                                                 "; sleep 0.3; exit 0"})));
  EXPECT_EQ(WaitFor(*l, c.pid), ExitStatus::Exited(0));
  std::ifstream in(file);
  pid_t adopted = 0;
  ASSERT_TRUE(in >> adopted);
  ASSERT_EQ(kill(adopted, 0), 0) << "the setsid'd grandchild should still run";
  EXPECT_GE(l->KillAdopted(), 1);
  EXPECT_EQ(WaitFor(*l, adopted), ExitStatus::Signaled(SIGKILL));
  // Its own child (sleep, same group) died with the group and reached us too.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(l->KillAdopted(), 0);
  while (l->ReapAny().has_value()) {
  }
}

TEST(PosixProcessLauncherTest, MissingProgramNamesRankAndPath) {
  auto l = MakeLauncher();
  EXPECT_THAT(l->Spawn(Spec({"/x/y"})),
              StatusIs(absl::StatusCode::kNotFound,
                       "spawn rank 3: execve /x/y: No such file or directory"));
  EXPECT_EQ(l->ReapAny(), std::nullopt);  // the failed child was reaped already
}

TEST(PosixProcessLauncherTest, DirectoryIsPermissionDenied) {
  auto l = MakeLauncher();
  EXPECT_THAT(l->Spawn(Spec({"/tmp"})),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("execve /tmp")));
}

TEST(PosixProcessLauncherTest, NameNotInPathIsNotFound) {
  auto l = MakeLauncher();
  EXPECT_THAT(l->Spawn(Spec({"no-such-program-xyz"})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found in PATH")));
}

TEST(PosixProcessLauncherTest, SignalGroupReachesTheChild) {
  auto l = MakeLauncher();
  FABRIC_ASSERT_OK_AND_ASSIGN(Child c, l->Spawn(Spec({"sleep", "1000"})));
  ASSERT_THAT(l->SignalGroup(c.pgid, SIGTERM), IsOk());
  EXPECT_EQ(WaitFor(*l, c.pid), ExitStatus::Signaled(SIGTERM));
  EXPECT_THAT(l->SignalGroup(c.pgid, SIGTERM), IsOk());  // gone: ESRCH is OK
}

TEST(PosixProcessLauncherTest, RefusesToSignalOwnGroup) {
  auto l = MakeLauncher();
  EXPECT_THAT(l->SignalGroup(getpgrp(), SIGTERM),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refusing")));
  EXPECT_THAT(l->SignalGroup(1, SIGTERM),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refusing")));
}

TEST(PosixProcessLauncherTest, ChildGetsExactlyTheGivenEnvironment) {
  auto l = MakeLauncher();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  SpawnSpec s = Spec({"/usr/bin/env"});
  s.env = {"A=1", "B=two"};
  s.stdout_fd = p[1];
  FABRIC_ASSERT_OK_AND_ASSIGN(Child c, l->Spawn(s));
  close(p[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(p[0]);
  EXPECT_EQ(out, "A=1\nB=two\n");
  EXPECT_EQ(WaitFor(*l, c.pid), ExitStatus::Exited(0));
}

// Runs `spec` with stdout on a pipe and returns what it printed.
std::string Capture(PosixProcessLauncher& l, SpawnSpec spec, pid_t* pid) {
  int p[2];
  if (pipe(p) != 0) return "pipe failed";
  spec.stdout_fd = p[1];
  absl::StatusOr<Child> c = l.Spawn(spec);
  close(p[1]);
  std::string out;
  if (c.ok()) {
    *pid = c->pid;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  } else {
    out = std::string(c.status().message());
  }
  close(p[0]);
  return out;
}

// The field `name` of /proc/self/status as the child saw it.
std::string StatusField(const std::string& status, const std::string& name) {
  size_t at = status.find("\n" + name + ":\t");
  if (at == std::string::npos) return "missing " + name;
  at += name.size() + 3;
  return status.substr(at, status.find('\n', at) - at);
}

TEST(PosixProcessLauncherTest, ChildGetsTheGivenMaskAndDefaultDispositions) {
  PosixProcessLauncherOptions o;
  sigemptyset(&o.child_sigmask);
  sigaddset(&o.child_sigmask, SIGUSR2);  // 12 -> bit 11 -> 0x800
  sigemptyset(&o.keep_ignored);
  sigaddset(&o.keep_ignored, SIGHUP);  // stays ignored: bit 0 -> 0x1
  o.subreaper = false;
  FABRIC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PosixProcessLauncher> l,
                              PosixProcessLauncher::Create(o));
  // The caller blocks and ignores more than the worker should get.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGCHLD);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  struct sigaction ign {
  }, old_pipe{}, old_hup{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ign, &old_pipe), 0);
  ASSERT_EQ(sigaction(SIGHUP, &ign, &old_hup), 0);
  pid_t pid = -1;
  std::string status = Capture(*l, Spec({"/bin/cat", "/proc/self/status"}), &pid);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  EXPECT_EQ(StatusField(status, "SigBlk"), "0000000000000800") << status;
  // Standard signals only (1-31): the runner may hand us ignored real-time ones.
  const uint64_t ignored = std::stoull(StatusField(status, "SigIgn"), nullptr, 16);
  EXPECT_EQ(ignored & 0x7fffffffu, 0x1u) << status;
  // Its own process group, a child of this process.
  EXPECT_EQ(StatusField(status, "PPid"), std::to_string(getpid())) << status;
  EXPECT_EQ(StatusField(status, "NSpgid").substr(0, std::to_string(pid).size()),
            std::to_string(pid))
      << status;
  EXPECT_EQ(WaitFor(*l, pid), ExitStatus::Exited(0));
}

TEST(PosixProcessLauncherTest, BadOutputDescriptorIsReportedAndReaped) {
  auto l = MakeLauncher();
  SpawnSpec s = Spec({"/bin/true"});
  s.stdout_fd = 1000;  // not open
  EXPECT_THAT(l->Spawn(s), StatusIs(absl::StatusCode::kInternal, HasSubstr("Bad file descriptor")));
  EXPECT_EQ(l->ReapAny(), std::nullopt);
}

TEST(PosixProcessLauncherTest, ManySpawnsInARowWhileAnotherThreadRuns) {
  auto l = MakeLauncher();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> spins{0};
  std::thread busy([&] {
    std::vector<std::string> churn;
    while (!stop.load()) {  // allocates and frees while the spawns happen
      churn.emplace_back(100, 'x');
      if (churn.size() > 64) churn.clear();
      spins.fetch_add(1);
    }
  });
  for (int i = 0; i < 50; ++i) {
    pid_t pid = -1;
    SpawnSpec s = Spec({"/bin/echo", absl::StrCat("spawn-", i)});
    EXPECT_EQ(Capture(*l, s, &pid), absl::StrCat("spawn-", i, "\n"));
    EXPECT_EQ(WaitFor(*l, pid), ExitStatus::Exited(0));
  }
  EXPECT_THAT(l->Spawn(Spec({"/x/y"})), StatusIs(absl::StatusCode::kNotFound, HasSubstr("/x/y")));
  stop = true;
  busy.join();
  EXPECT_GT(spins.load(), 0);
}

// --numa-binding's placement is applied before the exec: the program starts on exactly
// the CPUs asked for (CPU 0 exists everywhere), its memory preferring node 0.
TEST(PosixProcessLauncherTest, ChildStartsBoundToTheGivenCpus) {
  auto l = MakeLauncher();
  const std::string out = absl::StrCat(std::getenv("TEST_TMPDIR"), "/affinity.txt");
  FILE* f = fopen(out.c_str(), "w");
  ASSERT_NE(f, nullptr);
  // numa_maps names the policy of each mapping: "prefer:0" once the preference is set.
  SpawnSpec s = Spec({"sh", "-c",
                      "grep Cpus_allowed_list /proc/self/status; "
                      "grep -q prefer:0 /proc/self/numa_maps && echo preferred node 0"});
  s.stdout_fd = fileno(f);
  s.cpus = {0};
  s.preferred_node = 0;
  FABRIC_ASSERT_OK_AND_ASSIGN(Child c, l->Spawn(s));
  fclose(f);
  EXPECT_EQ(WaitFor(*l, c.pid), ExitStatus::Exited(0));
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("Cpus_allowed_list:\t0\n"));
  EXPECT_THAT(text, HasSubstr("preferred node 0"));
}

TEST(PosixProcessLauncherTest, AnAffinityTheKernelRefusesIsASpawnErrorNamingTheCall) {
  auto l = MakeLauncher();
  SpawnSpec s = Spec({"/bin/true"});
  s.cpus = {CPU_SETSIZE - 1};  // no such CPU here
  EXPECT_THAT(l->Spawn(s),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("spawn rank 3: sched_setaffinity: Invalid argument")));
  EXPECT_EQ(l->ReapAny(), std::nullopt);
  s.cpus = {CPU_SETSIZE};
  EXPECT_THAT(l->Spawn(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CPU_SETSIZE")));
}

}  // namespace
}  // namespace fabric::launcher
