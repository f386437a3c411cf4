// The rendezvous state machine driven by random request sequences (deterministic seeds,
// bounded), with its invariants checked after every call:
//  - the running round's members have unique, dense node ranks 0..n-1 in order, and
//    global rank bases are the prefix sums of their local world sizes;
//  - rounds never go back; a finished run never becomes unfinished; restarts spent never
//    decrease and never exceed the budget;
//  - no node is both a member and waiting;
//  - a running round has between min_nodes and max_nodes members;
//  - every successful Join completion agrees with the others of its round (round, node
//    count, world size, master address) and no two nodes get one node rank in a round.
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rendezvous/state.h"

namespace fabric::rendezvous {
namespace {

struct RoundView {
  int num_nodes = -1;
  int world_size = -1;
  std::string master_addr;
  std::set<int> ranks;
};

class Driver {
 public:
  Driver(uint32_t seed, int nodes) : rng_(seed), state_(Options()) {
    min_ = 1 + static_cast<int>(rng_() % 2);
    max_ = min_ + static_cast<int>(rng_() % 3);
    restarts_ = static_cast<int>(rng_() % 3);
    for (int i = 0; i < nodes; ++i) ids_.push_back(absl::StrCat("n", i));
  }

  static StateOptions Options() {
    StateOptions o;
    o.run_id = "fuzz";
    o.last_call_timeout = absl::Milliseconds(500);
    o.join_timeout = absl::Seconds(30);
    o.keepalive_timeout = absl::Seconds(3);
    return o;
  }

  void Step() {
    const std::string& id = ids_[rng_() % ids_.size()];
    std::vector<Effect> effects;
    switch (rng_() % 10) {
      case 0:
      case 1: {
        JoinRequest r;
        r.run_id = "fuzz";
        r.node_id = id;
        r.local_world_size = 1 + static_cast<int>(rng_() % 3);
        r.address = absl::StrCat(id, ".host");
        r.requested_node_rank = rng_() % 4 == 0 ? static_cast<int>(rng_() % 3) : -1;
        r.master_port = 20000 + static_cast<int>(rng_() % 100);
        r.min_nodes = min_;
        r.max_nodes = max_;
        r.max_restarts = restarts_;
        (void)state_.Join(r, now_, &effects);
        break;
      }
      case 2:
        state_.WithdrawJoin(id, now_, &effects);
        break;
      case 3: {
        absl::StatusOr<int64_t> s = state_.OpenSession("fuzz", id, now_, &effects);
        if (s.ok()) sessions_[id] = *s;
        break;
      }
      case 4:
        if (sessions_.count(id)) state_.KeepAlive(id, sessions_[id], now_);
        break;
      case 5:
        if (sessions_.count(id)) state_.CloseSession(id, sessions_[id], now_, &effects);
        break;
      case 6: {
        WorkerFailure f;
        f.node_id = id;
        f.exit_code = 1;
        const int64_t round = rng_() % 3 == 0 ? state_.round() - 1 : state_.round();
        (void)state_.ReportFailure(id, round, f, now_, &effects);
        break;
      }
      case 7:
        (void)state_.ReportSuccess(id, state_.round(), now_, &effects);
        break;
      case 8:
        if (rng_() % 4 == 0) state_.Leave(id, "fuzz", now_, &effects);
        break;
      default:
        now_ += absl::Milliseconds(rng_() % 2000);
        state_.Tick(now_, &effects);
        break;
    }
    Check(effects);
  }

  void Check(const std::vector<Effect>& effects) {
    const RunStatus s = state_.Status();
    const std::string where = absl::StrCat(" (round ", s.round, ", phase ", PhaseName(s.phase), ")");
    ASSERT_GE(s.round, last_round_) << "the round went back" << where;
    last_round_ = s.round;
    const bool finished = s.phase == Phase::kFailed || s.phase == Phase::kSucceeded;
    ASSERT_FALSE(finished_ && !finished) << "a finished run became unfinished" << where;
    finished_ = finished;
    ASSERT_GE(s.restart_count, last_restarts_) << where;
    ASSERT_LE(s.restart_count, restarts_) << where;
    last_restarts_ = s.restart_count;
    int base = 0;
    std::set<std::string> members;
    for (size_t i = 0; i < s.members.size(); ++i) {
      const Member& m = s.members[i];
      ASSERT_EQ(m.node_rank, static_cast<int>(i)) << "node ranks not dense" << where;
      ASSERT_EQ(m.global_rank_base, base) << "rank bases not prefix sums" << where;
      base += m.local_world_size;
      ASSERT_TRUE(members.insert(m.node_id).second) << m.node_id << " twice" << where;
    }
    for (const std::string& w : s.waiting) {
      ASSERT_EQ(members.count(w), 0u) << w << " is a member and waiting" << where;
    }
    if (s.phase == Phase::kRunning) {
      ASSERT_GE(static_cast<int>(s.members.size()), 1) << where;
      ASSERT_LE(static_cast<int>(s.members.size()), max_) << where;
    }
    for (const Effect& e : effects) {
      if (e.kind != Effect::Kind::kCompleteJoin || !e.join_result.ok()) continue;
      const Assignment& a = *e.join_result;
      RoundView& v = rounds_[a.round];
      ASSERT_LT(a.node_rank, a.num_nodes) << where;
      ASSERT_GE(a.num_nodes, min_) << where;
      ASSERT_LE(a.num_nodes, max_) << where;
      if (v.num_nodes < 0) {
        v.num_nodes = a.num_nodes;
        v.world_size = a.world_size;
        v.master_addr = a.master_addr;
      }
      ASSERT_EQ(a.num_nodes, v.num_nodes) << "round " << a.round << " disagrees" << where;
      ASSERT_EQ(a.world_size, v.world_size) << "round " << a.round << " disagrees" << where;
      ASSERT_EQ(a.master_addr, v.master_addr) << "round " << a.round << " disagrees" << where;
      ASSERT_TRUE(v.ranks.insert(a.node_rank).second)
          << "node rank " << a.node_rank << " given twice in round " << a.round << where;
      ++completions_;
    }
  }

  int completions() const { return completions_; }

 private:
  std::mt19937 rng_;
  RendezvousState state_;
  std::vector<std::string> ids_;
  std::map<std::string, int64_t> sessions_;
  std::map<int64_t, RoundView> rounds_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  int min_ = 1, max_ = 1, restarts_ = 0;
  int64_t last_round_ = 0;
  int last_restarts_ = 0;
  bool finished_ = false;
  int completions_ = 0;
};

TEST(StateFuzzTest, RandomRequestSequencesKeepTheInvariants) {
  int completions = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    Driver d(seed, 2 + static_cast<int>(seed % 4));
    for (int i = 0; i < 400; ++i) {
      d.Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    completions += d.completions();
  }
  // Not vacuous: the sequences complete many rounds.
  EXPECT_GT(completions, 1000);
}

}  // namespace
}  // namespace fabric::rendezvous
