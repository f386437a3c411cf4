// Real zygotes (FABRIC_VENV_PYTHON, preloading the small stdlib module `json`) forking
// real workers through a subreaper PosixProcessLauncher, as the agent runs them.
#include "launcher/zygote_process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/posix_process_launcher.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

// Prints what a worker sees, then exits with argv[1].
constexpr char kScript[] = R"(import os, sys
print("pid", os.getpid(), "ppid", os.getppid(), "pgrp", os.getpgrp())
print("argv", sys.argv, "name", __name__, "rank", os.environ.get("RANK"))
print("path0", sys.path[0])
sys.exit(int(sys.argv[1]))
)";

class ZygoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* py = std::getenv("FABRIC_VENV_PYTHON");
    if (py == nullptr || access(py, X_OK) != 0) GTEST_SKIP() << "no FABRIC_VENV_PYTHON";
    python_ = py;
    dir_ = ::testing::TempDir();
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
    script_ = dir_ + "/worker.py";
    std::ofstream(script_) << kScript;
    PosixProcessLauncherOptions o;
    sigemptyset(&o.child_sigmask);
    sigemptyset(&o.keep_ignored);
    o.subreaper = true;
    auto base = PosixProcessLauncher::Create(o);
    ASSERT_TRUE(base.ok()) << base.status();
    base_ = std::move(*base);
  }

  std::unique_ptr<ZygoteProcessLauncher> Make(std::vector<std::string> modules) {
    ZygoteOptions zo;
    zo.python = python_;
    zo.modules = std::move(modules);
    zo.script_dir = dir_;
    zo.say = [this](const std::string& s) { said_ += s; };
    return std::make_unique<ZygoteProcessLauncher>(base_.get(), std::move(zo));
  }

  // A worker running kScript with exit code `code`, its stdout into `out_file`.
  SpawnSpec Spec(int code, const std::string& out_file) {
    SpawnSpec s;
    s.name = "rank 1";
    s.argv = {python_, "-u", script_, std::to_string(code)};
    s.env = {"PATH=/usr/bin:/bin", "RANK=1"};
    out_fd_ = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    s.stdout_fd = out_fd_;
    return s;
  }

  std::optional<ExitStatus> WaitFor(ProcessLauncher& l, pid_t pid) {
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      while (std::optional<Reaped> r = l.ReapAny()) {
        if (r->pid == pid) return r->status;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return std::nullopt;
  }

  static std::string Slurp(const std::string& path) {
    std::stringstream ss;
    ss << std::ifstream(path).rdbuf();
    return ss.str();
  }

  void TearDown() override {
    if (out_fd_ >= 0) close(out_fd_);
  }

  std::string python_, dir_, script_, said_;
  std::unique_ptr<PosixProcessLauncher> base_;
  int out_fd_ = -1;
};

TEST_F(ZygoteTest, ForkedWorkerIsTheAgentsChildInItsOwnGroupWithItsArgvAndEnv) {
  auto z = Make({"json"});
  const std::string out = dir_ + "/out1";
  absl::StatusOr<Child> c = z->Spawn(Spec(3, out));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(z->forked(), 1) << said_;
  EXPECT_GT(z->zygote_pid(), 0);
  EXPECT_EQ(WaitFor(*z, c->pid), ExitStatus::Exited(3));
  const std::string text = Slurp(out);
  EXPECT_THAT(text, HasSubstr(absl::StrCat("pid ", c->pid, " ppid ", getpid(), " pgrp ", c->pid)));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("argv ['", script_, "', '3'] name __main__ rank 1")));
  char real[4096];
  ASSERT_NE(realpath(dir_.c_str(), real), nullptr);
  EXPECT_THAT(text, HasSubstr(absl::StrCat("path0 ", real, "\n")));
  EXPECT_EQ(said_, "");
}

TEST_F(ZygoteTest, SignalledWorkerIsReapedWithItsSignalAndKillAdoptedSparesTheZygote) {
  auto z = Make({"json"});
  SpawnSpec s = Spec(0, dir_ + "/out2");
  s.argv = {python_, "-c", "unused"};  // not forkable: spawned normally (negative control)
  absl::StatusOr<Child> plain = z->Spawn(s);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(z->forked(), 0);
  EXPECT_EQ(WaitFor(*z, plain->pid)->success(), false);  // -c unused: NameError
  const std::string sleeper = dir_ + "/sleep.py";
  std::ofstream(sleeper) << "import time\ntime.sleep(300)\n";
  s.argv = {python_, sleeper};
  absl::StatusOr<Child> c = z->Spawn(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(z->forked(), 1);
  ASSERT_TRUE(z->SignalGroup(c->pgid, SIGTERM).ok());
  EXPECT_EQ(WaitFor(*z, c->pid), ExitStatus::Signaled(SIGTERM));
  z->ReleaseGroup(c->pgid);
  const pid_t zygote = z->zygote_pid();
  EXPECT_EQ(z->KillAdopted(), 0);
  EXPECT_EQ(kill(zygote, 0), 0);  // still there for the next attempt
}

TEST_F(ZygoteTest, FailingImportFallsBackToSpawningWithOneLine) {
  auto z = Make({"json", "no_such_module_for_fabric"});
  const std::string out = dir_ + "/out3";
  absl::StatusOr<Child> c = z->Spawn(Spec(0, out));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(z->failed());
  EXPECT_EQ(z->zygote_pid(), -1);
  EXPECT_EQ(z->forked(), 0);
  EXPECT_EQ(
      said_,
      "fabric-run: --preload json,no_such_module_for_fabric: import no_such_module_for_fabric "
      "failed: ModuleNotFoundError: No module named 'no_such_module_for_fabric'; spawning "
      "Python workers normally\n");
  EXPECT_EQ(WaitFor(*z, c->pid), ExitStatus::Exited(0));
  EXPECT_THAT(Slurp(out), HasSubstr("rank 1"));
}

// Stand-ins on PYTHONPATH: a `torch` whose import leaves CUDA initialized, and a module
// whose import starts a thread. Each is refused with its line, and the worker is spawned.
TEST_F(ZygoteTest, ImportsThatInitializeCudaOrStartThreadsAreRefused) {
  const std::string fakes = dir_ + "/fakes";
  ASSERT_EQ(system(("mkdir -p " + fakes + "/torch").c_str()), 0);
  std::ofstream(fakes + "/torch/__init__.py")
      << "class cuda:\n    is_initialized = staticmethod(lambda: True)\n"
         "def set_num_threads(n):\n    pass\n";
  std::ofstream(fakes + "/spins.py")
      << "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), "
         "daemon=True).start()\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"torch", "importing torch initialized CUDA, which a forked worker cannot use"},
      {"spins", "importing spins started 2 threads; forking a multi-threaded process is unsafe"}};
  for (const auto& [module, line] : cases) {
    said_.clear();
    auto z = Make({module});
    SpawnSpec s = Spec(0, dir_ + "/out_" + module);
    s.env.push_back("PYTHONPATH=" + fakes);
    absl::StatusOr<Child> c = z->Spawn(s);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(z->failed()) << module;
    EXPECT_THAT(said_, HasSubstr(line));
    EXPECT_EQ(WaitFor(*z, c->pid), ExitStatus::Exited(0));
  }
}

TEST_F(ZygoteTest, ZygoteDeathIsOneLineAndLaterWorkersAreSpawned) {
  auto z = Make({"json"});
  absl::StatusOr<Child> c = z->Spawn(Spec(0, dir_ + "/out4"));
  ASSERT_TRUE(c.ok());
  const pid_t zygote = z->zygote_pid();
  ASSERT_GT(zygote, 0);
  ASSERT_EQ(kill(zygote, SIGKILL), 0);
  EXPECT_EQ(WaitFor(*z, c->pid), ExitStatus::Exited(0));  // the worker outlives it
  for (int i = 0; i < 200 && !z->failed(); ++i) {
    z->ReapAny();  // the zygote's exit: never returned
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(z->failed());
  EXPECT_THAT(said_,
              HasSubstr(absl::StrCat("the zygote (pid ", zygote, ") exited: signal SIGKILL (9)")));
  absl::StatusOr<Child> d = z->Spawn(Spec(5, dir_ + "/out5"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(z->forked(), 1);
  EXPECT_EQ(WaitFor(*z, d->pid), ExitStatus::Exited(5));
}

}  // namespace
}  // namespace fabric::launcher
