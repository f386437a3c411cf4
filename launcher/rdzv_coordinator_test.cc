#include "launcher/rdzv_coordinator.h"

#include <poll.h>

#include "common/net.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using Kind = CoordinatorEvent::Kind;

TEST(FormatClusterFailureTest, NamesNodeRankAndCause) {
  rendezvous::WorkerFailure f;
  f.node_id = "hostb:42";
  f.node_rank = 1;
  f.global_rank = 3;
  f.local_rank = 1;
  f.exit_code = 7;
  std::string s = FormatClusterFailure("run-x", "restart budget spent", &f, 1, 1);
  EXPECT_THAT(s, HasSubstr("job run-x failed on every node (restarts spent: 1 of 1)"));
  EXPECT_THAT(s, HasSubstr("root cause: rank 3 on node 1 (hostb:42, local rank 1): exit code 7"));
  EXPECT_THAT(s, HasSubstr("reason: restart budget spent"));
  EXPECT_EQ(ClusterExitCode(&f), 7);
  f.exit_code = -1;
  f.signal = 9;
  EXPECT_THAT(FormatClusterFailure("r", "x", &f, 0, 0), HasSubstr("killed by SIGKILL (9)"));
  EXPECT_EQ(ClusterExitCode(&f), 137);
  EXPECT_EQ(ClusterExitCode(nullptr), 1);
  EXPECT_THAT(FormatClusterFailure("r", "node 'n' lost", nullptr, 0, 0),
              ::testing::Not(HasSubstr("root cause")));
}

// Waits for the next event of `c` (up to 30 s).
CoordinatorEvent Next(RdzvCoordinator& c) {
  for (int i = 0; i < 300; ++i) {
    pollfd p{c.event_fd(), POLLIN, 0};
    poll(&p, 1, 100);
    std::vector<CoordinatorEvent> ev = c.TakeEvents();
    if (!ev.empty()) return ev.front();
  }
  CoordinatorEvent none;
  none.message = "no event";
  return none;
}

RdzvCoordinatorOptions Options(int port, std::optional<int> node_rank, const std::string& id) {
  RdzvCoordinatorOptions o;
  o.launch.min_nodes = o.launch.max_nodes = 2;
  o.launch.devices = 2;
  o.launch.node_rank = node_rank;
  o.launch.main_address = "127.0.0.1";
  o.launch.main_port = port;
  o.launch.join_timeout = absl::Seconds(30);
  o.run_id = "coord-test";
  o.node_id = id;
  return o;
}

TEST(RdzvCoordinatorTest, TwoNodesGetPrefixSumRanksAndOneMaster) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  FABRIC_ASSERT_OK_AND_ASSIGN(auto a, RdzvCoordinator::Create(Options(port, std::nullopt, "a")));
  FABRIC_ASSERT_OK_AND_ASSIGN(auto b, RdzvCoordinator::Create(Options(port, std::nullopt, "b")));
  ASSERT_THAT(a->Start(), IsOk());
  ASSERT_THAT(b->Start(), IsOk());
  EXPECT_TRUE(a->hosting());  // the first to bind hosts
  EXPECT_FALSE(b->hosting());
  a->RequestPlan();
  b->RequestPlan();
  CoordinatorEvent ea = Next(*a), eb = Next(*b);
  ASSERT_EQ(ea.kind, Kind::kPlan) << ea.message;
  ASSERT_EQ(eb.kind, Kind::kPlan) << eb.message;
  EXPECT_EQ(ea.plan.world_size, 4);
  EXPECT_EQ(ea.plan.num_nodes, 2);
  EXPECT_EQ(ea.plan.global_rank_base + eb.plan.global_rank_base, 2);
  EXPECT_EQ(ea.plan.master_port, eb.plan.master_port);
  EXPECT_EQ(ea.plan.master_addr, "127.0.0.1");
  EXPECT_NE(ea.plan.master_port, port);
  b->ReportSuccess(eb.plan);
  a->ReportSuccess(ea.plan);
  EXPECT_EQ(Next(*a).kind, Kind::kRunSucceeded);
  EXPECT_EQ(Next(*b).kind, Kind::kRunSucceeded);
  b->Finish();
  a->Finish();
}

TEST(RdzvCoordinatorTest, NodeRankZeroThatCannotBindIsAnError) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  FABRIC_ASSERT_OK_AND_ASSIGN(auto a, RdzvCoordinator::Create(Options(port, 0, "a")));
  FABRIC_ASSERT_OK_AND_ASSIGN(auto b, RdzvCoordinator::Create(Options(port, 0, "b")));
  ASSERT_THAT(a->Start(), IsOk());
  absl::Status s = b->Start();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot listen on 127.0.0.1:")));
  a->Finish();
}

TEST(RdzvCoordinatorTest, WorkerFailureSpendsTheBudgetForBoth) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  auto oa = Options(port, 0, "a");
  auto ob = Options(port, 1, "b");
  oa.launch.max_restarts = ob.launch.max_restarts = 1;
  FABRIC_ASSERT_OK_AND_ASSIGN(auto a, RdzvCoordinator::Create(oa));
  FABRIC_ASSERT_OK_AND_ASSIGN(auto b, RdzvCoordinator::Create(ob));
  ASSERT_THAT(a->Start(), IsOk());
  ASSERT_THAT(b->Start(), IsOk());
  for (int attempt = 0; attempt < 2; ++attempt) {
    a->RequestPlan();
    b->RequestPlan();
    CoordinatorEvent ea = Next(*a), eb = Next(*b);
    ASSERT_EQ(ea.kind, Kind::kPlan) << ea.message;
    ASSERT_EQ(eb.kind, Kind::kPlan) << eb.message;
    EXPECT_EQ(eb.plan.restart_count, attempt);
    EXPECT_EQ(eb.plan.node_rank, 1);
    LocalFailure f;
    f.global_rank = 3;
    f.local_rank = 1;
    f.status = ExitStatus::Exited(7);
    b->ReportFailure(eb.plan, f);
    CoordinatorEvent na = Next(*a), nb = Next(*b);
    if (attempt == 0) {
      EXPECT_EQ(na.kind, Kind::kRoundChanged);
      EXPECT_EQ(nb.kind, Kind::kRoundChanged);
      EXPECT_GT(na.round, ea.plan.round);
      EXPECT_FALSE(na.lost_node.has_value());  // a worker failure is no node loss
    } else {
      ASSERT_EQ(na.kind, Kind::kRunFailed);
      ASSERT_EQ(nb.kind, Kind::kRunFailed);
      EXPECT_EQ(na.message, nb.message);  // the same summary on every node
      EXPECT_THAT(na.message, HasSubstr("root cause: rank 3 on node 1"));
      EXPECT_EQ(na.exit_code, 7);
      EXPECT_FALSE(na.lost_node.has_value());
    }
  }
  b->Finish();
  a->Finish();
}

// A node that leaves is named in the events of the others: with the round change when the
// job goes on without it, with the run's failure when too few nodes are left.
TEST(RdzvCoordinatorTest, ALostNodeComesWithTheRoundChangeOrTheFailure) {
  for (int min_nodes : {1, 2}) {
    SCOPED_TRACE(min_nodes);
    FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
    auto oa = Options(port, 0, "a");
    auto ob = Options(port, 1, "b");
    oa.launch.min_nodes = ob.launch.min_nodes = min_nodes;
    FABRIC_ASSERT_OK_AND_ASSIGN(auto a, RdzvCoordinator::Create(oa));
    FABRIC_ASSERT_OK_AND_ASSIGN(auto b, RdzvCoordinator::Create(ob));
    ASSERT_THAT(a->Start(), IsOk());
    ASSERT_THAT(b->Start(), IsOk());
    a->RequestPlan();
    b->RequestPlan();
    ASSERT_EQ(Next(*a).kind, Kind::kPlan);
    ASSERT_EQ(Next(*b).kind, Kind::kPlan);
    b->Leave("stopped by a test");
    b->Finish();
    CoordinatorEvent na = Next(*a);
    ASSERT_EQ(na.kind, min_nodes == 1 ? Kind::kRoundChanged : Kind::kRunFailed) << na.message;
    ASSERT_TRUE(na.lost_node.has_value()) << na.message;
    EXPECT_EQ(na.lost_node->node_id, "b");
    EXPECT_EQ(na.lost_node->node_rank, 1);
    EXPECT_THAT(na.lost_node->why, HasSubstr("stopped by a test"));
    a->Finish();
  }
}

TEST(RdzvCoordinatorTest, UnreachableServerIsOneErrorNamingTheAddress) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  auto o = Options(port, 1, "b");
  o.launch.join_timeout = absl::Milliseconds(500);
  FABRIC_ASSERT_OK_AND_ASSIGN(auto b, RdzvCoordinator::Create(o));
  ASSERT_THAT(b->Start(), IsOk());
  b->RequestPlan();
  CoordinatorEvent e = Next(*b);
  EXPECT_EQ(e.kind, Kind::kFatal);
  EXPECT_THAT(e.message, HasSubstr(absl::StrCat("127.0.0.1:", port)));
  EXPECT_THAT(e.message, HasSubstr("0 of 2 nodes"));
}

}  // namespace
}  // namespace fabric::launcher
