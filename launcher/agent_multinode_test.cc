// Agent::Run in multi-node mode against a scripted fake Coordinator: real worker
// processes (/bin/sh), fake rendezvous. Covers the bridge of pushed events into the
// agent's loop (a round change stops the gang and re-joins), failure and success
// reports, and the terminal events.
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/agent.h"
#include "launcher/event_log.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using Kind = CoordinatorEvent::Kind;

class FakeCoordinator : public Coordinator {
 public:
  FakeCoordinator() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~FakeCoordinator() override { close(fd_); }
  int event_fd() const override { return fd_; }
  std::vector<CoordinatorEvent> TakeEvents() override {
    uint64_t n;
    (void)!read(fd_, &n, sizeof(n));
    absl::MutexLock lock(&mu_);
    std::vector<CoordinatorEvent> out(events_.begin(), events_.end());
    events_.clear();
    return out;
  }
  void Post(CoordinatorEvent e) {
    {
      absl::MutexLock lock(&mu_);
      events_.push_back(std::move(e));
    }
    uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
  // Scripted: each RequestPlan hands out the next plan.
  void RequestPlan() override {
    absl::MutexLock lock(&mu_);
    ++plans_requested;
    if (plans.empty()) return;
    if (before_plan.has_value()) events_.push_back(*std::exchange(before_plan, std::nullopt));
    CoordinatorEvent e;
    e.kind = Kind::kPlan;
    e.plan = plans.front();
    plans.pop_front();
    events_.push_back(e);
    uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
  void ReportFailure(const NodePlacement& plan, const LocalFailure& f) override {
    absl::MutexLock lock(&mu_);
    failures.push_back(f);
    if (on_failure.has_value()) {
      events_.push_back(*on_failure);
      uint64_t one = 1;
      (void)!write(fd_, &one, sizeof(one));
    }
  }
  void ReportSuccess(const NodePlacement& plan) override {
    {
      absl::MutexLock lock(&mu_);
      ++successes;
    }
    CoordinatorEvent e;
    e.kind = Kind::kRunSucceeded;
    Post(e);
  }
  void Leave(const std::string& reason) override {
    absl::MutexLock lock(&mu_);
    left = reason;
  }
  void Finish() override {
    absl::MutexLock lock(&mu_);
    ++finished;
  }

  absl::Mutex mu_;
  std::deque<NodePlacement> plans;
  std::optional<CoordinatorEvent> on_failure;
  std::optional<CoordinatorEvent> before_plan;  // posted (once) just before the next plan
  std::vector<LocalFailure> failures;
  int plans_requested = 0, successes = 0, finished = 0;
  std::string left;

 private:
  int fd_;
  std::deque<CoordinatorEvent> events_;
};

NodePlacement Plan(int64_t round, int restart_count) {
  NodePlacement p;
  p.run_id = "fake";
  p.round = round;
  p.restart_count = restart_count;
  p.max_restarts = 1;
  p.node_rank = 1;
  p.num_nodes = 2;
  p.global_rank_base = 2;
  p.local_world_size = 2;
  p.world_size = 4;
  p.master_port = 12345;
  return p;
}

class AgentMultiNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t old;
    BlockAgentSignals(&old);
    err_path_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".err";
  }
  int Run(const std::string& script) {
    AgentOptions o;
    o.launch.max_nodes = o.launch.min_nodes = 2;
    o.launch.devices = 2;
    o.launch.grace_period = absl::Seconds(5);
    o.launch.exec_argv = {"/bin/sh", "-c", script};
    o.inherited_env = {{"PATH", "/usr/bin:/bin"}};
    sigemptyset(&o.worker_sigmask);
    sigemptyset(&o.ignored_at_start);
    err_fd_ = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    o.console_stdout = err_fd_;
    o.console_stderr = err_fd_;
    o.coordinator = &fake_;
    o.launch.events_file = events_path_;
    auto agent = Agent::Create(std::move(o));
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (!agent.ok()) return -1;
    int code = (*agent)->Run();
    close(err_fd_);
    return code;
  }
  std::string Err() {
    std::ifstream f(err_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  // Sets --events to a fresh file; Events() reads its records back.
  void LogEvents() {
    events_path_ = err_path_ + ".events.jsonl";
    unlink(events_path_.c_str());
  }
  std::vector<EventRecord> Events(const std::string& name) {
    std::ifstream f(events_path_);
    std::vector<EventRecord> out;
    for (std::string line; std::getline(f, line);) {
      absl::StatusOr<EventRecord> e = DecodeEvent(line);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok() && e->name == name) out.push_back(*e);
    }
    return out;
  }
  // Runs two rounds: the first's workers sleep until `pushed` stops them.
  int RunWithPushedRoundChange(const CoordinatorEvent& pushed) {
    fake_.plans.push_back(Plan(1, 0));
    fake_.plans.push_back(Plan(2, 1));
    std::thread pusher([this, pushed] {
      absl::SleepFor(absl::Milliseconds(500));
      fake_.Post(pushed);
    });
    int code = Run("[ \"$TORCHELASTIC_RESTART_COUNT\" = 1 ] || exec sleep 1000");
    pusher.join();
    return code;
  }
  FakeCoordinator fake_;
  std::string events_path_;
  std::string err_path_;
  int err_fd_ = -1;
};

TEST_F(AgentMultiNodeTest, SuccessIsReportedAndTheRunsEndExitsZero) {
  fake_.plans.push_back(Plan(1, 0));
  EXPECT_EQ(Run("echo rank $RANK of $WORLD_SIZE group $GROUP_RANK"), 0) << Err();
  EXPECT_EQ(fake_.successes, 1);
  EXPECT_EQ(fake_.finished, 1);
  EXPECT_THAT(Err(), HasSubstr("[node 1 rank 3]: rank 3 of 4 group 1"));
}

TEST_F(AgentMultiNodeTest, PushedRoundChangeStopsTheWorkersAndRejoins) {
  fake_.plans.push_back(Plan(1, 0));
  fake_.plans.push_back(Plan(2, 1));
  std::thread pusher([this] {
    absl::SleepFor(absl::Milliseconds(500));
    CoordinatorEvent e;
    e.kind = Kind::kRoundChanged;
    e.round = 2;
    e.message = "worker failure elsewhere";
    fake_.Post(e);
  });
  // Attempt 0 sleeps until stopped; attempt 1 succeeds.
  int code = Run("[ \"$TORCHELASTIC_RESTART_COUNT\" = 1 ] || exec sleep 1000");
  pusher.join();
  EXPECT_EQ(code, 0) << Err();
  EXPECT_EQ(fake_.plans_requested, 2);
  EXPECT_THAT(Err(),
              HasSubstr("round 2 began (worker failure elsewhere): stopping this node's workers"));
}

// The round change that supersedes a plan arrives before it (the server's push overtook
// its answer to the join): the plan's workers are not started, the node joins again.
TEST_F(AgentMultiNodeTest, ARoundChangeBeforeItsPlanIsNotLost) {
  fake_.plans.push_back(Plan(1, 0));
  fake_.plans.push_back(Plan(2, 1));
  CoordinatorEvent e;
  e.kind = Kind::kRoundChanged;
  e.round = 2;
  e.message = "node 'x' joined; growing from 2 to 3 nodes";
  fake_.before_plan = e;
  const std::string mark = err_path_ + ".round1";
  unlink(mark.c_str());
  // Round 1's workers would leave the mark and sleep for good; round 2's succeed.
  int code =
      Run("[ \"$TORCHELASTIC_RESTART_COUNT\" = 1 ] || { touch " + mark + "; exec sleep 1000; }");
  EXPECT_EQ(code, 0) << Err();
  EXPECT_EQ(fake_.plans_requested, 2);
  EXPECT_NE(access(mark.c_str(), F_OK), 0) << "round 1's workers were started";
}

// Negative control: a round change older than the plan (what the join answers) is dropped.
TEST_F(AgentMultiNodeTest, ARoundChangeOlderThanThePlanIsDropped) {
  fake_.plans.push_back(Plan(2, 0));
  CoordinatorEvent e;
  e.kind = Kind::kRoundChanged;
  e.round = 2;
  fake_.before_plan = e;
  EXPECT_EQ(Run("true"), 0) << Err();
  EXPECT_EQ(fake_.plans_requested, 1);
}

TEST_F(AgentMultiNodeTest, ANodeLossIsInTheEventLog) {
  LogEvents();
  CoordinatorEvent e;
  e.kind = Kind::kRoundChanged;
  e.round = 2;
  e.membership_change = true;
  e.message = "node 'node-b' lost: its session stream closed (x) (node rank 0)";
  e.lost_node = LostNode{"node-b", 0, "its session stream closed (x)"};
  ASSERT_EQ(RunWithPushedRoundChange(e), 0) << Err();
  std::vector<EventRecord> lost = Events("fabric.node.lost");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].metadata["lost_node_id"], "node-b");
  EXPECT_EQ(lost[0].metadata["lost_node_rank"], 0);
  EXPECT_EQ(lost[0].metadata["reason"], "its session stream closed (x)");
  EXPECT_EQ(lost[0].metadata["round"], 2);
  EXPECT_EQ(lost[0].metadata["run_continues"], true);
  EXPECT_EQ(Events("fabric.round.change").size(), 1u);
}

TEST_F(AgentMultiNodeTest, AMembershipChangeWithNoLostNodeIsNoNodeLoss) {  // negative control
  LogEvents();
  CoordinatorEvent e;
  e.kind = Kind::kRoundChanged;
  e.round = 2;
  e.membership_change = true;
  e.message = "node 'c' joined; growing from 1 to 2 nodes";
  ASSERT_EQ(RunWithPushedRoundChange(e), 0) << Err();
  EXPECT_EQ(Events("fabric.round.change").size(), 1u);
  EXPECT_TRUE(Events("fabric.node.lost").empty());
}

TEST_F(AgentMultiNodeTest, ANodeLossThatFailsTheRunIsInTheEventLog) {
  LogEvents();
  fake_.plans.push_back(Plan(1, 0));
  std::thread pusher([this] {
    absl::SleepFor(absl::Milliseconds(300));
    CoordinatorEvent e;
    e.kind = Kind::kRunFailed;
    e.message = "fabric-run: job fake failed on every node\nfabric-run:   reason: node 'n9' lost";
    e.lost_node = LostNode{"n9", 1, "it left (stop)"};
    fake_.Post(e);
  });
  EXPECT_EQ(Run("exec sleep 1000"), 1);
  pusher.join();
  std::vector<EventRecord> lost = Events("fabric.node.lost");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].metadata["lost_node_id"], "n9");
  EXPECT_EQ(lost[0].metadata["lost_node_rank"], 1);
  EXPECT_EQ(lost[0].metadata["reason"], "it left (stop)");
  EXPECT_TRUE(lost[0].metadata["round"].is_null());
  EXPECT_EQ(lost[0].metadata["run_continues"], false);
}

TEST_F(AgentMultiNodeTest, LocalFailureIsReportedAndTheClusterSummaryPrinted) {
  fake_.plans.push_back(Plan(1, 1));
  CoordinatorEvent failed;
  failed.kind = Kind::kRunFailed;
  failed.message = "fabric-run: job fake failed on every node (summary)\n";
  failed.exit_code = 3;
  fake_.on_failure = failed;
  EXPECT_EQ(Run("[ \"$LOCAL_RANK\" = 1 ] && exit 3; exec sleep 1000"), 3);
  ASSERT_EQ(fake_.failures.size(), 1u);
  EXPECT_EQ(fake_.failures[0].global_rank, 3);
  EXPECT_EQ(fake_.failures[0].local_rank, 1);
  EXPECT_EQ(fake_.failures[0].status.code, 3);
  EXPECT_THAT(Err(), HasSubstr("job fake failed on every node (summary)"));
  EXPECT_EQ(fake_.successes, 0);
}

TEST_F(AgentMultiNodeTest, LostServerStopsTheWorkersAndExitsOne) {
  fake_.plans.push_back(Plan(1, 0));
  std::thread pusher([this] {
    absl::SleepFor(absl::Milliseconds(300));
    CoordinatorEvent e;
    e.kind = Kind::kFatal;
    e.message = "lost the rendezvous server at x:1";
    fake_.Post(e);
  });
  EXPECT_EQ(Run("exec sleep 1000"), 1);
  pusher.join();
  EXPECT_THAT(Err(), HasSubstr("fabric-run: lost the rendezvous server at x:1"));
  EXPECT_EQ(fake_.finished, 1);
}

TEST_F(AgentMultiNodeTest, NoCoordinatorRefusesSeveralNodes) {
  AgentOptions o;
  o.launch.max_nodes = 2;
  o.launch.exec_argv = {"/bin/true"};
  auto agent = Agent::Create(std::move(o));
  EXPECT_EQ(agent.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace fabric::launcher
