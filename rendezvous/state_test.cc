// RendezvousState's tests: one file over 500 lines because they share one fixture (a
// fake clock, effects, helpers to join and assign) and cover one state machine.
#include "rendezvous/state.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fake_clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class StateTest : public ::testing::Test {
 protected:
  void Init(int min_nodes, int max_nodes, int max_restarts = 0) {
    min_ = min_nodes;
    max_ = max_nodes;
    max_restarts_ = max_restarts;
    StateOptions o;
    o.last_call_timeout = absl::Seconds(2);
    o.join_timeout = absl::Seconds(30);
    o.keepalive_timeout = absl::Seconds(5);
    state_ = std::make_unique<RendezvousState>(o);
  }
  JoinRequest Req(const std::string& node, int requested = -1, int lws = 2) {
    JoinRequest r;
    r.run_id = "run1";
    r.node_id = node;
    r.local_world_size = lws;
    r.address = "host-" + node;
    r.requested_node_rank = requested;
    r.master_port = 30000 + static_cast<int>(node.back());
    r.min_nodes = min_;
    r.max_nodes = max_;
    r.max_restarts = max_restarts_;
    return r;
  }
  absl::Status Join(const std::string& node, int requested = -1, int lws = 2) {
    return state_->Join(Req(node, requested, lws), clock_.TimeNow(), &effects_);
  }
  // Joins with an open session (as a real agent does).
  void JoinLive(const std::string& node, int requested = -1, int lws = 2) {
    auto sid = state_->OpenSession("run1", node, clock_.TimeNow(), &effects_);
    ASSERT_THAT(sid, IsOk());
    sessions_[node] = *sid;
    ASSERT_THAT(Join(node, requested, lws), IsOk());
  }
  void Tick() { state_->Tick(clock_.TimeNow(), &effects_); }
  void Advance(absl::Duration d) {
    clock_.AdvanceTime(d);
    // Live sessions send keep-alives unless the test says otherwise.
    for (const auto& [node, sid] : sessions_) {
      if (!hung_.count(node)) state_->KeepAlive(node, sid, clock_.TimeNow());
    }
    Tick();
  }
  // Pops the join completion for `node` (if any).
  std::optional<absl::StatusOr<Assignment>> TakeJoin(const std::string& node) {
    for (auto it = effects_.begin(); it != effects_.end(); ++it) {
      if (it->kind == Effect::Kind::kCompleteJoin && it->node_id == node) {
        auto r = it->join_result;
        effects_.erase(it);
        return r;
      }
    }
    return std::nullopt;
  }
  std::vector<Event> TakeEvents(const std::string& node) {
    std::vector<Event> out;
    for (auto it = effects_.begin(); it != effects_.end();) {
      if (it->kind == Effect::Kind::kPushEvent && it->node_id == node) {
        out.push_back(it->event);
        it = effects_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  Assignment MustAssign(const std::string& node) {
    auto r = TakeJoin(node);
    EXPECT_TRUE(r.has_value()) << "no join completion for " << node;
    if (!r.has_value()) return {};
    EXPECT_THAT(*r, IsOk());
    return r->ok() ? **r : Assignment{};
  }

  FakeClock clock_;
  std::unique_ptr<RendezvousState> state_;
  std::vector<Effect> effects_;
  std::map<std::string, int64_t> sessions_;
  std::set<std::string> hung_;
  int min_ = 1, max_ = 1, max_restarts_ = 0;
};

TEST_F(StateTest, CompletesAtMaxNodesAtOnce) {
  Init(2, 2);
  JoinLive("a");
  EXPECT_FALSE(TakeJoin("a").has_value());
  JoinLive("b");
  Assignment a = MustAssign("a");
  Assignment b = MustAssign("b");
  EXPECT_EQ(a.round, 1);
  EXPECT_EQ(a.num_nodes, 2);
  EXPECT_EQ(a.world_size, 4);
  EXPECT_EQ(a.node_rank, 0);
  EXPECT_EQ(b.node_rank, 1);
  EXPECT_EQ(b.global_rank_base, 2);
  EXPECT_EQ(a.master_addr, "host-a");
  EXPECT_EQ(b.master_addr, "host-a");
  EXPECT_EQ(b.master_port, a.master_port);
  EXPECT_EQ(a.master_port, 30000 + 'a');
  EXPECT_EQ(state_->phase(), Phase::kRunning);
}

TEST_F(StateTest, LargeJobsGetNoMemberListInAssignments) {
  min_ = max_ = 3;
  StateOptions o;
  o.max_members_in_assignment = 2;
  state_ = std::make_unique<RendezvousState>(o);
  JoinLive("a");
  JoinLive("b");
  JoinLive("c");
  Assignment a = MustAssign("a");
  EXPECT_TRUE(a.members.empty()) << "O(nodes^2) data is not sent to every node";
  EXPECT_EQ(a.world_size, 6);
  EXPECT_EQ(state_->Status().members.size(), 3u);
}

TEST_F(StateTest, GlobalRankBaseIsPrefixSumOfLocalWorldSizes) {
  Init(3, 3);
  JoinLive("a", -1, 4);
  JoinLive("b", -1, 1);
  JoinLive("c", -1, 3);
  EXPECT_EQ(MustAssign("a").global_rank_base, 0);
  EXPECT_EQ(MustAssign("b").global_rank_base, 4);
  Assignment c = MustAssign("c");
  EXPECT_EQ(c.global_rank_base, 5);
  EXPECT_EQ(c.world_size, 8);
  ASSERT_EQ(c.members.size(), 3u);
  EXPECT_EQ(c.members[2].node_id, "c");
}

TEST_F(StateTest, MinNodesCompletesOnlyAfterLastCallWindow) {
  Init(2, 4);
  JoinLive("a");
  JoinLive("b");
  EXPECT_FALSE(TakeJoin("a").has_value());
  Advance(absl::Seconds(1));
  EXPECT_FALSE(TakeJoin("a").has_value());
  Advance(absl::Seconds(1));
  EXPECT_EQ(MustAssign("a").num_nodes, 2);
  EXPECT_EQ(MustAssign("b").num_nodes, 2);
}

TEST_F(StateTest, NodeJoiningDuringLastCallIsIncluded) {
  Init(2, 4);
  JoinLive("a");
  JoinLive("b");
  Advance(absl::Seconds(1));
  JoinLive("c");
  Advance(absl::Seconds(1));
  EXPECT_EQ(MustAssign("c").num_nodes, 3);
}

TEST_F(StateTest, BelowMinNeverCompletesAndTimesOutNamingWhoJoined) {
  Init(3, 3);
  JoinLive("a");
  JoinLive("b");
  Advance(absl::Seconds(29));
  EXPECT_FALSE(TakeJoin("a").has_value());
  Advance(absl::Seconds(1));
  auto r = TakeJoin("a");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(*r, StatusIs(absl::StatusCode::kDeadlineExceeded,
                           AllOf(HasSubstr("2/3 nodes joined"), HasSubstr("a, b"))));
  ASSERT_TRUE(TakeJoin("b").has_value());
}

TEST_F(StateTest, JoinTimeoutBeforeAnyRoundAllowsAFreshStart) {
  Init(2, 2);
  JoinLive("a");
  Advance(absl::Seconds(31));
  ASSERT_TRUE(TakeJoin("a").has_value());
  JoinLive("a");
  JoinLive("b");
  EXPECT_EQ(MustAssign("a").round, 1);
}

TEST_F(StateTest, ExtraNodesBeyondMaxWaitAsSparesAndJoinNextRound) {
  Init(1, 2, /*max_restarts=*/3);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  JoinLive("c");
  EXPECT_FALSE(TakeJoin("c").has_value());
  std::vector<Event> ev = TakeEvents("c");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kStandby);
  EXPECT_TRUE(TakeEvents("a").empty()) << "a spare must not restart the running round";
  EXPECT_EQ(state_->round(), 1);
  // b dies: the spare takes its place in round 2.
  state_->CloseSession("b", sessions_["b"], clock_.TimeNow(), &effects_);
  sessions_.erase("b");
  ASSERT_EQ(TakeEvents("a").size(), 1u);
  EXPECT_THAT(Join("a"), IsOk());
  Assignment c = MustAssign("c");
  EXPECT_EQ(c.round, 2);
  EXPECT_EQ(c.num_nodes, 2);
  EXPECT_EQ(MustAssign("a").node_rank, 0);
  EXPECT_EQ(c.node_rank, 1);
}

TEST_F(StateTest, NewNodeBelowMaxTriggersNewRoundWithoutSpendingRestarts) {
  Init(1, 3, /*max_restarts=*/0);
  JoinLive("a");
  Advance(absl::Seconds(2));
  MustAssign("a");
  JoinLive("b");
  std::vector<Event> ev = TakeEvents("a");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kRoundChanged);
  EXPECT_EQ(ev[0].round, 2);
  EXPECT_THAT(ev[0].reason, HasSubstr("growing from 1 to 2"));
  EXPECT_THAT(Join("a"), IsOk());
  Advance(absl::Seconds(2));
  Assignment a = MustAssign("a");
  EXPECT_EQ(a.num_nodes, 2);
  EXPECT_EQ(a.restart_count, 0);
  EXPECT_EQ(a.node_rank, 0) << "a keeps its rank";
}

TEST_F(StateTest, RequestedNodeRanksAreHonoured) {
  Init(3, 3);
  JoinLive("x", 2);
  JoinLive("y", 0);
  JoinLive("z");
  EXPECT_EQ(MustAssign("x").node_rank, 2);
  Assignment y = MustAssign("y");
  EXPECT_EQ(y.node_rank, 0);
  EXPECT_EQ(MustAssign("z").node_rank, 1);
  EXPECT_EQ(y.master_addr, "host-y");
}

TEST_F(StateTest, StableRanksFollowJoinOrder) {
  Init(3, 3);
  JoinLive("zeta");
  JoinLive("alpha");
  JoinLive("mid");
  EXPECT_EQ(MustAssign("zeta").node_rank, 0);
  EXPECT_EQ(MustAssign("alpha").node_rank, 1);
  EXPECT_EQ(MustAssign("mid").node_rank, 2);
}

TEST_F(StateTest, DuplicateRequestedNodeRankIsRefused) {
  Init(2, 2);
  JoinLive("a", 1);
  auto sid = state_->OpenSession("run1", "b", clock_.TimeNow(), &effects_);
  ASSERT_THAT(sid, IsOk());
  EXPECT_THAT(Join("b", 1),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("node rank 1"), HasSubstr("'a'"), HasSubstr("'b'"))));
}

TEST_F(StateTest, RequestedRankOutOfRangeIsInvalid) {
  Init(2, 2);
  EXPECT_THAT(Join("a", 2), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0 to")));
}

TEST_F(StateTest, RejoinAfterRestartKeepsNodeRanks) {
  Init(3, 3, /*max_restarts=*/2);
  JoinLive("c");
  JoinLive("a");
  JoinLive("b");
  for (const char* n : {"a", "b", "c"}) MustAssign(n);
  WorkerFailure f;
  f.node_id = "b";
  f.global_rank = 5;
  f.exit_code = 1;
  ASSERT_THAT(state_->ReportFailure("b", 1, f, clock_.TimeNow(), &effects_), IsOk());
  // Re-join in a different order: ranks stay.
  EXPECT_THAT(Join("b"), IsOk());
  EXPECT_THAT(Join("a"), IsOk());
  EXPECT_THAT(Join("c"), IsOk());
  EXPECT_EQ(MustAssign("c").node_rank, 0);
  EXPECT_EQ(MustAssign("a").node_rank, 1);
  Assignment b = MustAssign("b");
  EXPECT_EQ(b.node_rank, 2);
  EXPECT_EQ(b.round, 2);
  EXPECT_EQ(b.restart_count, 1);
}

TEST_F(StateTest, LostNodeThatComesBackKeepsItsNodeRank) {
  Init(2, 4);
  JoinLive("a");
  JoinLive("b");
  JoinLive("c");
  Advance(absl::Seconds(3));  // last call
  for (const char* n : {"a", "b", "c"}) MustAssign(n);
  state_->CloseSession("b", sessions_["b"], clock_.TimeNow(), &effects_);
  ASSERT_EQ(state_->round(), 2);
  // A new node joins before b comes back: b still gets its old rank, z the free one.
  JoinLive("z");
  JoinLive("b");
  ASSERT_THAT(Join("a"), IsOk());
  ASSERT_THAT(Join("c"), IsOk());
  EXPECT_EQ(MustAssign("a").node_rank, 0);
  EXPECT_EQ(MustAssign("b").node_rank, 1);
  EXPECT_EQ(MustAssign("c").node_rank, 2);
  EXPECT_EQ(MustAssign("z").node_rank, 3);
}

TEST_F(StateTest, ConfigMismatchNamesBothValues) {
  Init(2, 2);
  JoinLive("a");
  JoinRequest r = Req("b");
  r.max_nodes = 3;
  EXPECT_THAT(
      state_->Join(r, clock_.TimeNow(), &effects_),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("max_nodes=3"), HasSubstr("max_nodes=2"), HasSubstr("'a'"))));
  r = Req("b");
  r.max_restarts = 7;
  EXPECT_THAT(state_->Join(r, clock_.TimeNow(), &effects_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("max_restarts=7"), HasSubstr("max_restarts=0"))));
}

TEST_F(StateTest, RunIdAndVersionMismatchAreRefused) {
  Init(2, 2);
  JoinLive("a");
  JoinRequest r = Req("b");
  r.run_id = "other";
  EXPECT_THAT(state_->Join(r, clock_.TimeNow(), &effects_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("'other'"), HasSubstr("'run1'"))));
  r = Req("b");
  r.protocol_version = 99;
  EXPECT_THAT(state_->Join(r, clock_.TimeNow(), &effects_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("version 99"), HasSubstr("version 1"))));
}

TEST_F(StateTest, ClosedSessionLosesNodeAndPushesRoundChange) {
  Init(1, 3, 0);
  JoinLive("a");
  JoinLive("b");
  JoinLive("c");
  for (const char* n : {"a", "b", "c"}) MustAssign(n);
  state_->CloseSession("b", sessions_["b"], clock_.TimeNow(), &effects_);
  for (const char* n : {"a", "c"}) {
    std::vector<Event> ev = TakeEvents(n);
    ASSERT_EQ(ev.size(), 1u) << n;
    EXPECT_EQ(ev[0].type, EventType::kRoundChanged);
    EXPECT_EQ(ev[0].round, 2);
    EXPECT_THAT(ev[0].reason, AllOf(HasSubstr("'b'"), HasSubstr("session stream closed")));
    // The agent's event log reads the lost node back from this reason (fabric.node.lost).
    std::optional<NodeLoss> loss = FindNodeLoss(ev[0].reason);
    ASSERT_TRUE(loss.has_value()) << ev[0].reason;
    EXPECT_EQ(loss->node_id, "b");
    EXPECT_EQ(loss->node_rank, 1);
    EXPECT_THAT(loss->why, HasSubstr("session stream closed"));
  }
  EXPECT_EQ(state_->Status().restart_count, 0) << "a lost node spends no restart";
}

TEST_F(StateTest, MissedKeepAlivesLoseHungNode) {
  Init(1, 2, 0);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  hung_.insert("b");
  Advance(absl::Seconds(4));
  EXPECT_TRUE(TakeEvents("a").empty());
  Advance(absl::Seconds(2));
  std::vector<Event> ev = TakeEvents("a");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_THAT(ev[0].reason, AllOf(HasSubstr("'b'"), HasSubstr("no keep-alive")));
}

TEST_F(StateTest, MemberThatNeverOpensSessionIsLost) {
  Init(1, 2, 0);
  JoinLive("a");
  ASSERT_THAT(Join("b"), IsOk());  // no session
  MustAssign("a");
  MustAssign("b");
  Advance(absl::Seconds(6));
  std::vector<Event> ev = TakeEvents("a");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_THAT(ev[0].reason, HasSubstr("never opened its session"));
}

TEST_F(StateTest, LossBelowMinFailsRunNamingLostNode) {
  Init(2, 2, 5);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  state_->CloseSession("b", sessions_["b"], clock_.TimeNow(), &effects_);
  std::vector<Event> ev = TakeEvents("a");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kRunFailed);
  EXPECT_THAT(ev[0].reason, AllOf(HasSubstr("'b'"), HasSubstr("below min_nodes=2")));
  EXPECT_EQ(state_->phase(), Phase::kFailed);
  EXPECT_THAT(Join("a"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("failed")));
}

TEST_F(StateTest, WorkerFailureSpendsOneRestartAndBumpsRoundForEveryone) {
  Init(2, 2, 2);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  WorkerFailure f;
  f.node_id = "b";
  f.global_rank = 3;
  f.exit_code = 7;
  auto r = state_->ReportFailure("b", 1, f, clock_.TimeNow(), &effects_);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->round, 2);
  EXPECT_EQ(r->restarts_left, 1);
  EXPECT_FALSE(r->run_failed);
  for (const char* n : {"a", "b"}) {
    std::vector<Event> ev = TakeEvents(n);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, EventType::kRoundChanged);
    EXPECT_TRUE(ev[0].has_root_cause);
    EXPECT_EQ(ev[0].root_cause.global_rank, 3);
    EXPECT_THAT(ev[0].reason, AllOf(HasSubstr("rank 3"), HasSubstr("restart 1/2")));
  }
  // A second report of the same round (another node saw the fallout) is stale.
  EXPECT_THAT(state_->ReportFailure("a", 1, f, clock_.TimeNow(), &effects_),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("stale round 1")));
  EXPECT_EQ(state_->Status().restart_count, 1);
}

TEST_F(StateTest, SpentBudgetFailsRunWithRootCauseForAll) {
  Init(2, 2, 1);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  WorkerFailure f;
  f.node_id = "a";
  f.global_rank = 1;
  f.exit_code = 1;
  ASSERT_THAT(state_->ReportFailure("a", 1, f, clock_.TimeNow(), &effects_), IsOk());
  TakeEvents("a");
  TakeEvents("b");
  ASSERT_THAT(Join("a"), IsOk());
  ASSERT_THAT(Join("b"), IsOk());
  MustAssign("a");
  MustAssign("b");
  f.node_id = "b";
  f.global_rank = 2;
  f.exit_code = -1;
  f.signal = 9;
  f.stderr_tail = "oom";
  auto r = state_->ReportFailure("b", 2, f, clock_.TimeNow(), &effects_);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->run_failed);
  for (const char* n : {"a", "b"}) {
    std::vector<Event> ev = TakeEvents(n);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, EventType::kRunFailed);
    EXPECT_EQ(ev[0].root_cause.node_id, "b");
    EXPECT_EQ(ev[0].root_cause.stderr_tail, "oom");
    EXPECT_THAT(ev[0].reason, AllOf(HasSubstr("SIGKILL"), HasSubstr("no restarts left")));
  }
}

TEST_F(StateTest, StaleRoundIsAborted) {
  Init(1, 1, 3);
  JoinLive("a");
  MustAssign("a");
  EXPECT_THAT(state_->CheckFence("run1", 1), IsOk());
  EXPECT_THAT(state_->CheckFence("run1", 0), IsOk());
  EXPECT_THAT(state_->CheckFence("run1", 7),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("current round is 1")));
  EXPECT_THAT(state_->ReportSuccess("a", 4, clock_.TimeNow(), &effects_),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("stale round 4")));
}

// A caller that is not a member (an unknown node id, e.g. a stray agent of another job
// that got past auth) cannot fail, finish or shrink the round.
TEST_F(StateTest, UnknownNodeCannotChangeMembership) {
  Init(2, 2, 1);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  const RunStatus before = state_->Status();
  WorkerFailure f;
  f.node_id = "stranger";
  f.exit_code = 1;
  EXPECT_THAT(state_->ReportFailure("stranger", before.round, f, clock_.TimeNow(), &effects_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a member")));
  EXPECT_THAT(state_->ReportSuccess("stranger", before.round, clock_.TimeNow(), &effects_),
              Not(IsOk()));
  state_->Leave("stranger", "mischief", clock_.TimeNow(), &effects_);
  state_->CloseSession("a", /*session_id=*/sessions_["a"] + 1000, clock_.TimeNow(), &effects_);
  const RunStatus after = state_->Status();
  EXPECT_EQ(after.round, before.round);
  EXPECT_EQ(after.phase, before.phase);
  EXPECT_EQ(after.restart_count, before.restart_count);
  ASSERT_EQ(after.members.size(), 2u);
  EXPECT_EQ(after.members[0].node_id, "a");
  EXPECT_EQ(after.members[1].node_id, "b");
}

TEST_F(StateTest, RunSucceedsWhenEveryNodeReportsSuccess) {
  Init(2, 2);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  auto first = state_->ReportSuccess("a", 1, clock_.TimeNow(), &effects_);
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(*first);
  EXPECT_TRUE(TakeEvents("a").empty());
  auto second = state_->ReportSuccess("b", 1, clock_.TimeNow(), &effects_);
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(*second);
  for (const char* n : {"a", "b"}) {
    std::vector<Event> ev = TakeEvents(n);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, EventType::kRunSucceeded);
  }
  // Streams closing after success lose nobody.
  state_->CloseSession("a", sessions_["a"], clock_.TimeNow(), &effects_);
  EXPECT_TRUE(TakeEvents("b").empty());
  EXPECT_EQ(state_->phase(), Phase::kSucceeded);
}

TEST_F(StateTest, WithdrawnJoinStopsCountingTowardsMin) {
  Init(2, 3);
  JoinLive("a");
  ASSERT_THAT(Join("b"), IsOk());
  state_->WithdrawJoin("b", clock_.TimeNow(), &effects_);
  Advance(absl::Seconds(3));
  EXPECT_FALSE(TakeJoin("a").has_value());
  EXPECT_THAT(state_->Status().waiting, ElementsAre("a"));
}

TEST_F(StateTest, LeaveActsLikeLossForOthers) {
  Init(1, 2);
  JoinLive("a");
  JoinLive("b");
  MustAssign("a");
  MustAssign("b");
  state_->Leave("b", "preempted", clock_.TimeNow(), &effects_);
  std::vector<Event> ev = TakeEvents("a");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_THAT(ev[0].reason, HasSubstr("preempted"));
}

TEST_F(StateTest, SessionOpenedAfterFailureGetsTerminalEvent) {
  Init(1, 1, 0);
  JoinLive("a");
  MustAssign("a");
  WorkerFailure f;
  f.node_id = "a";
  ASSERT_THAT(state_->ReportFailure("a", 1, f, clock_.TimeNow(), &effects_), IsOk());
  TakeEvents("a");
  ASSERT_THAT(state_->OpenSession("run1", "late", clock_.TimeNow(), &effects_), IsOk());
  std::vector<Event> ev = TakeEvents("late");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kRunFailed);
}

TEST_F(StateTest, RestartRoundWaitsForEveryPreviousMemberBeforeLastCall) {
  Init(1, 3, 1);
  JoinLive("a");
  JoinLive("b");
  Advance(absl::Seconds(2));
  MustAssign("a");
  MustAssign("b");
  WorkerFailure f;
  f.node_id = "a";
  ASSERT_THAT(state_->ReportFailure("a", 1, f, clock_.TimeNow(), &effects_), IsOk());
  ASSERT_THAT(Join("a"), IsOk());
  Advance(absl::Seconds(3));
  EXPECT_FALSE(TakeJoin("a").has_value()) << "b has not re-joined yet";
  ASSERT_THAT(Join("b"), IsOk());
  Advance(absl::Seconds(2));
  EXPECT_EQ(MustAssign("a").num_nodes, 2);
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
