#include "launcher/posix_process_launcher.h"

#include <signal.h>
#include <unistd.h>

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
  EXPECT_THAT(l->SignalGroup(getpgrp(), SIGTERM), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refusing")));
  EXPECT_THAT(l->SignalGroup(1, SIGTERM), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refusing")));
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

}  // namespace
}  // namespace fabric::launcher
