#include "launcher/local_coordinator.h"

#include <poll.h>

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using Kind = CoordinatorEvent::Kind;

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

class LocalCoordinatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<LocalCoordinator> Make(int max_restarts) {
    LaunchOptions o;
    o.devices = 2;
    o.max_restarts = max_restarts;
    auto c = LocalCoordinator::Create(o, "run-1");
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }
  // The one event queued now (the fd must say so).
  CoordinatorEvent One(LocalCoordinator& c) {
    EXPECT_TRUE(Readable(c.event_fd()));
    std::vector<CoordinatorEvent> evs = c.TakeEvents();
    EXPECT_EQ(evs.size(), 1u);
    EXPECT_FALSE(Readable(c.event_fd()));  // drained
    return evs.empty() ? CoordinatorEvent{} : evs[0];
  }
  static LocalFailure Failed(ExitStatus status, bool retryable = true) {
    LocalFailure f;
    f.global_rank = 1;
    f.local_rank = 1;
    f.status = status;
    f.retryable = retryable;
    return f;
  }
};

TEST_F(LocalCoordinatorTest, NothingQueuedAtFirst) {
  auto c = Make(0);
  EXPECT_FALSE(Readable(c->event_fd()));
  EXPECT_TRUE(c->TakeEvents().empty());
}

TEST_F(LocalCoordinatorTest, PlanIsTheSingleNodePlanAndSuccessEndsTheRun) {
  auto c = Make(0);
  c->RequestPlan();
  CoordinatorEvent ev = One(*c);
  ASSERT_EQ(ev.kind, Kind::kPlan);
  EXPECT_EQ(ev.plan.run_id, "run-1");
  EXPECT_EQ(ev.plan.restart_count, 0);
  EXPECT_EQ(ev.plan.round, 0);
  EXPECT_EQ(ev.plan.local_world_size, 2);
  EXPECT_EQ(ev.plan.world_size, 2);
  EXPECT_EQ(ev.plan.num_nodes, 1);
  EXPECT_GT(ev.plan.master_port, 0);
  c->ReportSuccess(ev.plan);
  EXPECT_EQ(One(*c).kind, Kind::kRunSucceeded);
  c->RequestPlan();  // the run has ended: nothing more
  EXPECT_TRUE(c->TakeEvents().empty());
}

TEST_F(LocalCoordinatorTest, FailuresRestartWhileTheBudgetLastsThenFailWithTheRootCause) {
  auto c = Make(2);
  std::vector<int> ports;
  for (int attempt = 0; attempt < 3; ++attempt) {
    c->RequestPlan();
    CoordinatorEvent plan = One(*c);
    ASSERT_EQ(plan.kind, Kind::kPlan);
    EXPECT_EQ(plan.plan.restart_count, attempt);
    EXPECT_EQ(plan.plan.round, attempt);
    EXPECT_EQ(plan.plan.max_restarts, 2);
    for (int p : ports) EXPECT_NE(plan.plan.master_port, p) << "a port reused";
    ports.push_back(plan.plan.master_port);
    c->ReportFailure(plan.plan, Failed(ExitStatus::Signaled(SIGSEGV)));
    CoordinatorEvent next = One(*c);
    if (attempt < 2) {
      EXPECT_EQ(next.kind, Kind::kRoundChanged);
      EXPECT_EQ(next.round, attempt + 1);
    } else {
      EXPECT_EQ(next.kind, Kind::kRunFailed);
      EXPECT_EQ(next.exit_code, 128 + SIGSEGV);
    }
  }
}

TEST_F(LocalCoordinatorTest, ASpawnFailureIsNotRetriedAndKeepsItsCode) {
  auto c = Make(5);
  c->RequestPlan();
  CoordinatorEvent plan = One(*c);
  c->ReportFailure(plan.plan, Failed(ExitStatus::Exited(127), /*retryable=*/false));
  CoordinatorEvent ev = One(*c);
  EXPECT_EQ(ev.kind, Kind::kRunFailed);
  EXPECT_EQ(ev.exit_code, 127);
}

TEST_F(LocalCoordinatorTest, AnExitCodeOfZeroStillFailsTheRun) {
  auto c = Make(0);
  c->RequestPlan();
  CoordinatorEvent plan = One(*c);
  c->ReportFailure(plan.plan, Failed(ExitStatus::Exited(0)));
  EXPECT_EQ(One(*c).exit_code, 1);
}

TEST_F(LocalCoordinatorTest, OnlyTheFirstReportOfAnAttemptCounts) {
  auto c = Make(3);
  c->RequestPlan();
  CoordinatorEvent plan = One(*c);
  c->ReportFailure(plan.plan, Failed(ExitStatus::Exited(3)));  // the early report
  c->ReportFailure(plan.plan, Failed(ExitStatus::Exited(3)));  // the same, again
  c->ReportSuccess(plan.plan);                                 // stale: decided
  CoordinatorEvent ev = One(*c);
  EXPECT_EQ(ev.kind, Kind::kRoundChanged);
  EXPECT_EQ(ev.round, 1);
  // A report about attempt 0 after attempt 1 was planned changes nothing.
  c->RequestPlan();
  CoordinatorEvent second = One(*c);
  EXPECT_EQ(second.plan.restart_count, 1);
  c->ReportFailure(plan.plan, Failed(ExitStatus::Exited(3)));
  EXPECT_TRUE(c->TakeEvents().empty());
}

}  // namespace
}  // namespace fabric::launcher
