// The standalone server and agents as separate processes on 127.0.0.1: joins, a killed
// agent (closed stream), a stopped agent (missed keep-alives), auth, clean SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace fabric {
namespace rendezvous {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(60);

// A child process whose stdout and stderr go to files; killed (by pid) on destruction.
class Proc {
 public:
  Proc(const std::string& name, std::vector<std::string> argv) {
    static int counter = 0;
    base_ = absl::StrCat(::testing::TempDir(), "/", name, "-", getpid(), "-", counter++);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (base_ + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&fa, 2, (base_ + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "spawn " << argv[0];
    if (rc != 0) pid_ = -1;
  }
  ~Proc() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string Out() const { return Read(base_ + ".out"); }
  std::string Err() const { return Read(base_ + ".err"); }
  // Waits until stdout contains `count` lines containing `needle`.
  bool WaitForOut(const std::string& needle, int count = 1) const {
    const absl::Time deadline = absl::Now() + kGenerous;
    while (absl::Now() < deadline) {
      std::string out = Out();
      int n = 0;
      for (size_t pos = out.find(needle); pos != std::string::npos;
           pos = out.find(needle, pos + 1)) {
        ++n;
      }
      if (n >= count) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }
  // Exit status as the shell reports it; -1 when it did not exit in time.
  int Wait() {
    const absl::Time deadline = absl::Now() + kGenerous;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

 private:
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string base_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

const char kServer[] = "rendezvous/fabric-rendezvous";
const char kAgent[] = "rendezvous/tests/rdzv_agent";

class MultiProcessTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        kServer, "--host", "127.0.0.1", "--port", "0", "--last-call-timeout", "200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<Proc>("server", argv);
    ASSERT_TRUE(server_->WaitForOut("\n")) << server_->Err();
    std::string first = std::string(absl::StripAsciiWhitespace(
        std::vector<std::string>(absl::StrSplit(server_->Out(), '\n'))[0]));
    address_ = "127.0.0.1:" + first;
  }
  std::unique_ptr<Proc> Agent(const std::string& node, std::vector<std::string> extra) {
    std::vector<std::string> argv = {kAgent, "--server", address_, "--node", node};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Proc>("agent-" + node, argv);
  }

  std::unique_ptr<Proc> server_;
  std::string address_;
};

TEST_F(MultiProcessTest, ServerPrintsPortAndStopsCleanlyOnSigterm) {
  StartServer();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(address_.substr(address_.find(':') + 1), &port));
  EXPECT_GT(port, 0);
  kill(server_->pid(), SIGTERM);
  EXPECT_EQ(server_->Wait(), 0) << server_->Err();
}

TEST_F(MultiProcessTest, FourAgentProcessesFormOneJob) {
  StartServer();
  std::vector<std::unique_ptr<Proc>> agents;
  for (int i = 0; i < 4; ++i) {
    agents.push_back(Agent(absl::StrCat("n", i), {"--min", "4", "--max", "4", "--lws", "2"}));
  }
  std::set<std::string> ranks;
  for (auto& a : agents) {
    EXPECT_EQ(a->Wait(), 0) << a->Err();
    std::string out = a->Out();
    EXPECT_THAT(out, ::testing::HasSubstr("world=8"));
    EXPECT_THAT(out, ::testing::HasSubstr("nodes=4"));
    size_t pos = out.find(" rank=");
    ASSERT_NE(pos, std::string::npos) << out;
    ranks.insert(out.substr(pos, 8));
  }
  EXPECT_EQ(ranks.size(), 4u) << "every node got a distinct rank";
}

TEST_F(MultiProcessTest, KilledAgentIsNoticedByEveryOtherAgent) {
  StartServer();
  auto a = Agent("a", {"--min", "1", "--max", "3", "--wait"});
  auto b = Agent("b", {"--min", "1", "--max", "3", "--wait"});
  auto c = Agent("c", {"--min", "1", "--max", "3", "--wait"});
  for (Proc* p : {a.get(), b.get(), c.get()}) {
    ASSERT_TRUE(p->WaitForOut("nodes=3")) << p->Out() << p->Err();
  }
  kill(c->pid(), SIGKILL);
  for (Proc* p : {a.get(), b.get()}) {
    ASSERT_TRUE(p->WaitForOut("EVENT type=round-changed round=2")) << p->Out() << p->Err();
    EXPECT_THAT(p->Out(), ::testing::HasSubstr("'c' lost"));
    ASSERT_TRUE(p->WaitForOut("nodes=2 world=2 round=2")) << p->Out();
  }
}

TEST_F(MultiProcessTest, StoppedAgentIsLostAfterKeepaliveTimeout) {
  StartServer({"--keepalive-timeout", "1s"});
  auto a = Agent("a", {"--min", "1", "--max", "2", "--wait", "--keepalive-ms", "100"});
  auto b = Agent("b", {"--min", "1", "--max", "2", "--wait", "--keepalive-ms", "100"});
  ASSERT_TRUE(a->WaitForOut("nodes=2")) << a->Err();
  ASSERT_TRUE(b->WaitForOut("nodes=2")) << b->Err();
  kill(b->pid(), SIGSTOP);  // hung: socket open, no keep-alives
  ASSERT_TRUE(a->WaitForOut("EVENT type=round-changed")) << a->Out();
  EXPECT_THAT(a->Out(), ::testing::HasSubstr("no keep-alive"));
  ASSERT_TRUE(a->WaitForOut("nodes=1 world=1 round=2")) << a->Out();
  kill(b->pid(), SIGKILL);
}

TEST_F(MultiProcessTest, AgentWithoutTokenIsRefused) {
  const std::string token_file = ::testing::TempDir() + "/rdzv-token";
  std::ofstream(token_file) << "tok-123\n";
  StartServer({"--token-file", token_file});
  auto bad = Agent("x", {"--min", "1", "--max", "1"});
  EXPECT_EQ(bad->Wait(), 3);
  EXPECT_THAT(bad->Err(), ::testing::HasSubstr("UNAUTHENTICATED"));
  auto good = Agent("y", {"--min", "1", "--max", "1", "--token", "tok-123"});
  EXPECT_EQ(good->Wait(), 0) << good->Err();
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
