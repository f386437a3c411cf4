#include "launcher/agent.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

class CgroupOomTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = std::string(std::getenv("TEST_TMPDIR")) + "/cg"; }
  void Write(const std::string& rel, const std::string& text) {
    std::string path = root_;
    for (absl::string_view part : absl::StrSplit(rel, '/')) {
      mkdir(path.c_str(), 0755);
      path += "/" + std::string(part);
    }
    std::ofstream(path) << text;
  }
  std::string root_;
};

TEST_F(CgroupOomTest, ReadsCgroupV2MemoryEvents) {
  Write("job/a/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 4\n");
  EXPECT_EQ(ReadCgroupOomKillsAt("0::/job/a\n", root_), 4);
}

TEST_F(CgroupOomTest, ReadsCgroupV1OomControl) {
  Write("memory/x/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  EXPECT_EQ(ReadCgroupOomKillsAt("5:cpu:/\n4:memory:/x\n0::/\n", root_), 2);
}

TEST_F(CgroupOomTest, HybridV2UnderUnified) {
  Write("unified/u/memory.events", "oom_kill 1\n");
  EXPECT_EQ(ReadCgroupOomKillsAt("0::/u\n", root_), 1);
}

TEST_F(CgroupOomTest, UnreadableIsNullopt) {
  EXPECT_EQ(ReadCgroupOomKillsAt("0::/nothing-here\n", root_), std::nullopt);
  EXPECT_EQ(ReadCgroupOomKillsAt("", root_), std::nullopt);
}

TEST(AgentCreateTest, MultiNodeIsRefusedWithAClearMessage) {
  AgentOptions o;
  o.launch.max_nodes = 2;
  o.launch.min_nodes = 2;
  o.launch.exec_argv = {"/bin/true"};
  sigemptyset(&o.worker_sigmask);
  sigemptyset(&o.ignored_at_start);
  EXPECT_THAT(Agent::Create(o),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("--num-nodes")));
}

TEST(IgnoredSignalsTest, ReportsOnlyIgnoredForwardableSignals) {
  struct sigaction old_hup, old_usr1, ign;
  memset(&ign, 0, sizeof(ign));
  ign.sa_handler = SIG_IGN;
  sigaction(SIGHUP, &ign, &old_hup);
  sigaction(SIGUSR1, nullptr, &old_usr1);
  sigset_t set = IgnoredSignals();
  EXPECT_EQ(sigismember(&set, SIGHUP), 1);
  EXPECT_EQ(sigismember(&set, SIGTERM), 0);
  EXPECT_EQ(sigismember(&set, SIGUSR1), old_usr1.sa_handler == SIG_IGN ? 1 : 0);
  sigaction(SIGHUP, &old_hup, nullptr);
}

}  // namespace
}  // namespace fabric::launcher
