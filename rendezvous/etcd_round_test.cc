#include "rendezvous/etcd_round.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::rendezvous {
namespace {

using ::testing::HasSubstr;

RoundRecord Forming(int min, int max, int64_t round = 1) {
  RoundRecord r;
  r.round = round;
  r.min_nodes = min;
  r.max_nodes = max;
  r.max_restarts = 2;
  r.mod_revision = 7;
  return r;
}

NodeKey Node(const std::string& id, int64_t round, int64_t created, int requested = -1,
             int last = -1) {
  NodeKey n;
  n.node_id = id;
  n.round = round;
  n.local_world_size = 2;
  n.address = "addr-" + id;
  n.master_port = 1000 + static_cast<int>(created);
  n.requested_node_rank = requested;
  n.last_rank = last;
  n.create_revision = created;
  return n;
}

std::map<std::string, NodeKey> Nodes(std::initializer_list<NodeKey> list) {
  std::map<std::string, NodeKey> m;
  for (const NodeKey& n : list) m[n.node_id] = n;
  return m;
}

TEST(EtcdRoundTest, RecordAndNodeRoundTrip) {
  RoundRecord r = Forming(2, 3);
  r.round = 4;
  r.phase = Phase::kFailed;
  r.restart_count = 2;
  r.members = {{"a", 0, "h1", 2, 0}, {"b", 1, "h2", 3, 2}};
  r.master_addr = "h1";
  r.master_port = 555;
  r.reason = "why \"quoted\"";
  r.has_root_cause = true;
  r.root_cause.node_id = "b";
  r.root_cause.signal = 9;
  r.run_lease = 12345678901;
  absl::StatusOr<RoundRecord> back = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->round, 4);
  EXPECT_EQ(back->phase, Phase::kFailed);
  EXPECT_EQ(back->restart_count, 2);
  ASSERT_EQ(back->members.size(), 2u);
  EXPECT_EQ(back->members[1].node_id, "b");
  EXPECT_EQ(back->members[1].node_rank, 1);
  EXPECT_EQ(back->members[1].global_rank_base, 2);
  EXPECT_EQ(back->members[1].local_world_size, 3);
  EXPECT_EQ(back->reason, r.reason);
  EXPECT_TRUE(back->has_root_cause);
  EXPECT_EQ(back->root_cause.signal, 9);
  EXPECT_EQ(back->run_lease, 12345678901);

  NodeKey n = Node("x", 3, 1, 2, 1);
  n.succeeded_round = 3;
  n.left = "interrupted";
  absl::StatusOr<NodeKey> nb = DecodeNode(EncodeNode(n));
  ASSERT_TRUE(nb.ok()) << nb.status();
  EXPECT_EQ(nb->round, 3);
  EXPECT_EQ(nb->requested_node_rank, 2);
  EXPECT_EQ(nb->last_rank, 1);
  EXPECT_EQ(nb->succeeded_round, 3);
  EXPECT_EQ(nb->left, "interrupted");
}

TEST(EtcdRoundTest, MalformedValuesAreRefusedNamingTheField) {
  EXPECT_FALSE(DecodeRecord("not json").ok());
  EXPECT_FALSE(DecodeRecord("[1]").ok());
  EXPECT_THAT(std::string(DecodeRecord(R"({"round":"1","phase":"forming"})").status().message()),
              HasSubstr("'round'"));
  EXPECT_THAT(std::string(DecodeRecord(R"({"phase":"dancing"})").status().message()),
              HasSubstr("dancing"));
  EXPECT_FALSE(DecodeRecord(R"({"phase":"running","min_nodes":3,"max_nodes":2})").ok());
  EXPECT_FALSE(DecodeRecord(R"({"phase":"running","members":[{"local_world_size":0}]})").ok());
  EXPECT_FALSE(DecodeNode(R"({"round":1})").ok());  // no node id
  EXPECT_THAT(std::string(DecodeNode(R"({"node_id":"a","left":3})").status().message()),
              HasSubstr("'left'"));
}

TEST(EtcdRoundTest, FormingCompletesAtMaxAtOnce) {
  const RoundRecord r = Forming(1, 2);
  EXPECT_FALSE(Decide(r, Nodes({Node("a", 1, 5)}), false).has_value());
  std::optional<RoundRecord> next = Decide(r, Nodes({Node("b", 1, 4), Node("a", 1, 5)}), false);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->phase, Phase::kRunning);
  EXPECT_EQ(next->mod_revision, 7);  // the CAS compares against the record it read
  ASSERT_EQ(next->members.size(), 2u);
  EXPECT_EQ(next->members[0].node_id, "b");  // join order
  EXPECT_EQ(next->members[1].global_rank_base, 2);
  EXPECT_EQ(next->master_addr, "addr-b");
  EXPECT_EQ(next->master_port, 1004);
  std::optional<Assignment> a = AssignmentFor(*next, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->node_rank, 1);
  EXPECT_EQ(a->world_size, 4);
  EXPECT_EQ(a->global_rank_base, 2);
  EXPECT_FALSE(AssignmentFor(*next, "c").has_value());
}

TEST(EtcdRoundTest, FormingAtMinWaitsForTheLastCall) {
  const RoundRecord r = Forming(2, 3);
  auto nodes = Nodes({Node("a", 1, 5), Node("b", 1, 6)});
  EXPECT_FALSE(Decide(r, nodes, /*last_call_over=*/false).has_value());
  EXPECT_TRUE(Decide(r, nodes, /*last_call_over=*/true).has_value());
  // A node still in an older round does not count.
  auto stale = Nodes({Node("a", 1, 5), Node("b", 0, 6)});
  EXPECT_FALSE(Decide(r, stale, true).has_value());
  EXPECT_EQ(JoinedCount(r, stale), 1);
}

TEST(EtcdRoundTest, LaterRoundCompletesWhenEveryLiveNodeRejoined) {
  const RoundRecord r = Forming(2, 3, /*round=*/2);
  auto nodes = Nodes({Node("b", 2, 6, -1, 1), Node("c", 2, 7, -1, 2)});
  std::optional<RoundRecord> next = Decide(r, nodes, false);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->members[0].node_id, "b");  // rank 0 moves to the first survivor
  EXPECT_EQ(next->master_addr, "addr-b");
  nodes["d"] = Node("d", 1, 8);  // a live node not rejoined yet: wait for it (or the last call)
  EXPECT_FALSE(Decide(r, nodes, false).has_value());
}

TEST(EtcdRoundTest, OrderIsRequestedRankThenLastRankThenJoinOrder) {
  const RoundRecord r = Forming(4, 4);
  auto nodes =
      Nodes({Node("w", 1, 1), Node("x", 1, 2, -1, 0), Node("y", 1, 3, 0), Node("z", 1, 4, -1, 1)});
  std::optional<RoundRecord> next = Decide(r, nodes, false);
  ASSERT_TRUE(next.has_value());
  std::vector<std::string> order;
  for (const Member& m : next->members) order.push_back(m.node_id);
  EXPECT_EQ(order, (std::vector<std::string>{"y", "x", "z", "w"}));
}

TEST(EtcdRoundTest, SparesBeyondMaxWaitAndDoNotGrowAFullJob) {
  RoundRecord r = Forming(1, 2);
  auto nodes = Nodes({Node("a", 1, 1), Node("b", 1, 2), Node("c", 1, 3)});
  std::optional<RoundRecord> running = Decide(r, nodes, false);
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->members.size(), 2u);
  EXPECT_FALSE(Decide(*running, nodes, false).has_value());  // c waits as a spare
}

TEST(EtcdRoundTest, ALateNodeGrowsAJobBelowMax) {
  RoundRecord r = Forming(1, 3);
  auto nodes = Nodes({Node("a", 1, 1)});
  std::optional<RoundRecord> running = Decide(r, nodes, true);
  ASSERT_TRUE(running.has_value());
  nodes["b"] = Node("b", 1, 2);
  std::optional<RoundRecord> grown = Decide(*running, nodes, false);
  ASSERT_TRUE(grown.has_value());
  EXPECT_EQ(grown->round, 2);
  EXPECT_EQ(grown->phase, Phase::kForming);
  EXPECT_EQ(grown->restart_count, 0);
  EXPECT_THAT(grown->reason, HasSubstr("'b' joined"));
}

TEST(EtcdRoundTest, LostMemberBumpsTheRoundAboveMinAndFailsBelow) {
  RoundRecord r = Forming(2, 3);
  auto nodes = Nodes({Node("a", 1, 1), Node("b", 1, 2), Node("c", 1, 3)});
  std::optional<RoundRecord> running = Decide(r, nodes, false);
  ASSERT_TRUE(running.has_value());
  nodes.erase("a");  // rank 0's lease expired
  std::optional<RoundRecord> next = Decide(*running, nodes, false);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->round, 2);
  EXPECT_EQ(next->phase, Phase::kForming);
  EXPECT_EQ(next->restart_count, 0);  // a loss spends no restart
  EXPECT_FALSE(next->has_root_cause);
  std::optional<NodeLoss> loss = FindNodeLoss(next->reason);
  ASSERT_TRUE(loss.has_value()) << next->reason;
  EXPECT_EQ(loss->node_id, "a");
  EXPECT_EQ(loss->node_rank, 0);

  nodes["b"].left = "interrupted (SIGTERM)";
  std::optional<RoundRecord> failed = Decide(*running, nodes, false);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->phase, Phase::kFailed);
  EXPECT_THAT(failed->reason, HasSubstr("below min_nodes=2"));
}

TEST(EtcdRoundTest, EveryMemberSucceededEndsTheRun) {
  RoundRecord r = Forming(2, 2);
  auto nodes = Nodes({Node("a", 1, 1), Node("b", 1, 2)});
  std::optional<RoundRecord> running = Decide(r, nodes, false);
  ASSERT_TRUE(running.has_value());
  nodes["a"].succeeded_round = 1;
  EXPECT_FALSE(Decide(*running, nodes, false).has_value());
  nodes["b"].succeeded_round = 1;
  std::optional<RoundRecord> done = Decide(*running, nodes, false);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->phase, Phase::kSucceeded);
  EXPECT_FALSE(Decide(*done, nodes, false).has_value());  // terminal
}

TEST(EtcdRoundTest, FailureSpendsARestartThenFailsTheRun) {
  RoundRecord r = Forming(1, 1);
  r.max_restarts = 1;
  auto nodes = Nodes({Node("a", 1, 1)});
  std::optional<RoundRecord> running = Decide(r, nodes, false);
  ASSERT_TRUE(running.has_value());
  WorkerFailure f;
  f.node_id = "a";
  f.global_rank = 1;
  f.exit_code = 3;
  RoundRecord next = AfterFailure(*running, f);
  EXPECT_EQ(next.round, 2);
  EXPECT_EQ(next.phase, Phase::kForming);
  EXPECT_EQ(next.restart_count, 1);
  EXPECT_TRUE(next.has_root_cause);
  EXPECT_THAT(next.reason, HasSubstr("restart 1/1"));
  nodes["a"].round = 2;
  std::optional<RoundRecord> again = Decide(next, nodes, false);
  ASSERT_TRUE(again.has_value());
  RoundRecord pending = AfterFailure(*again, f);
  EXPECT_EQ(pending.phase, Phase::kRunning);
  EXPECT_TRUE(pending.failure_pending);
  EXPECT_EQ(pending.root_cause.exit_code, 3);
  EXPECT_THAT(pending.reason, HasSubstr("no restarts left"));
  EXPECT_TRUE(DecodeRecord(EncodeRecord(pending))->failure_pending);
  EXPECT_FALSE(Decide(pending, nodes, false, /*pending_over=*/false).has_value());
  std::optional<RoundRecord> failed = Decide(pending, nodes, false, /*pending_over=*/true);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->phase, Phase::kFailed);
  EXPECT_EQ(failed->root_cause.exit_code, 3);
  EXPECT_THAT(failed->reason, HasSubstr("no restarts left"));
}

TEST(EtcdRoundTest, APendingFailureGivesWayToAMemberLostMeanwhile) {
  RoundRecord r = Forming(2, 3);
  r.max_restarts = 0;
  auto nodes = Nodes({Node("a", 1, 1), Node("b", 1, 2), Node("c", 1, 3)});
  std::optional<RoundRecord> running = Decide(r, nodes, false);
  ASSERT_TRUE(running.has_value());
  WorkerFailure f;  // b's worker lost its peer on a, whose agent died
  f.node_id = "b";
  RoundRecord pending = AfterFailure(*running, f);
  nodes.erase("a");  // a's lease expires
  std::optional<RoundRecord> next = Decide(pending, nodes, false, /*pending_over=*/true);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->phase, Phase::kForming);
  EXPECT_EQ(next->round, 2);
  EXPECT_FALSE(next->failure_pending);
  EXPECT_FALSE(next->has_root_cause);
  EXPECT_EQ(next->restart_count, 0);
  EXPECT_EQ(FindNodeLoss(next->reason)->node_id, "a");
}

}  // namespace
}  // namespace fabric::rendezvous
