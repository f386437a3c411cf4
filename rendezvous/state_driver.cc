#include "rendezvous/state_driver.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fabric::rendezvous {

StateDriver::StateDriver(std::function<uint32_t()> next, int nodes)
    : next_(std::move(next)), state_(Options()) {
  min_ = 1 + static_cast<int>(next_() % 2);
  max_ = min_ + static_cast<int>(next_() % 3);
  restarts_ = static_cast<int>(next_() % 3);
  for (int i = 0; i < nodes; ++i) ids_.push_back(absl::StrCat("n", i));
}

StateOptions StateDriver::Options() {
  StateOptions o;
  o.run_id = "fuzz";
  o.last_call_timeout = absl::Milliseconds(500);
  o.join_timeout = absl::Seconds(30);
  o.keepalive_timeout = absl::Seconds(3);
  return o;
}

std::string StateDriver::Step() {
  const std::string& id = ids_[next_() % ids_.size()];
  std::vector<Effect> effects;
  switch (next_() % 10) {
    case 0:
    case 1: {
      JoinRequest r;
      r.run_id = "fuzz";
      r.node_id = id;
      r.local_world_size = 1 + static_cast<int>(next_() % 3);
      r.address = absl::StrCat(id, ".host");
      r.requested_node_rank = next_() % 4 == 0 ? static_cast<int>(next_() % 3) : -1;
      r.master_port = 20000 + static_cast<int>(next_() % 100);
      r.min_nodes = min_;
      r.max_nodes = max_;
      r.max_restarts = restarts_;
      (void)state_.Join(r, now_, &effects);
      break;
    }
    case 2: state_.WithdrawJoin(id, now_, &effects); break;
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
      const int64_t round = next_() % 3 == 0 ? state_.round() - 1 : state_.round();
      (void)state_.ReportFailure(id, round, f, now_, &effects);
      break;
    }
    case 7: (void)state_.ReportSuccess(id, state_.round(), now_, &effects); break;
    case 8:
      if (next_() % 4 == 0) state_.Leave(id, "fuzz", now_, &effects);
      break;
    default:
      now_ += absl::Milliseconds(next_() % 2000);
      state_.Tick(now_, &effects);
      break;
  }
  return Check(effects);
}

std::string StateDriver::Check(const std::vector<Effect>& effects) {
  const RunStatus s = state_.Status();
  const std::string where = absl::StrCat(" (round ", s.round, ", phase ", PhaseName(s.phase), ")");
  if (s.round < last_round_) return "the round went back" + where;
  last_round_ = s.round;
  const bool finished = s.phase == Phase::kFailed || s.phase == Phase::kSucceeded;
  if (finished_ && !finished) return "a finished run became unfinished" + where;
  finished_ = finished;
  if (s.restart_count < last_restarts_) return "restarts spent went down" + where;
  if (s.restart_count > restarts_) return "restarts spent exceed the budget" + where;
  last_restarts_ = s.restart_count;
  int base = 0;
  std::set<std::string> members;
  for (size_t i = 0; i < s.members.size(); ++i) {
    const Member& m = s.members[i];
    if (m.node_rank != static_cast<int>(i)) return "node ranks not dense" + where;
    if (m.global_rank_base != base) return "rank bases not prefix sums" + where;
    base += m.local_world_size;
    if (!members.insert(m.node_id).second) return m.node_id + " is a member twice" + where;
  }
  for (const std::string& w : s.waiting) {
    if (members.count(w) != 0) return w + " is a member and waiting" + where;
  }
  if (const std::string bad = state_.CheckRecords(); !bad.empty()) return bad + where;
  if (s.phase == Phase::kRunning &&
      (s.members.empty() || static_cast<int>(s.members.size()) > max_)) {
    return absl::StrCat("a running round of ", s.members.size(), " members", where);
  }
  for (const Effect& e : effects) {
    if (e.kind != Effect::Kind::kCompleteJoin || !e.join_result.ok()) continue;
    const Assignment& a = *e.join_result;
    RoundView& v = rounds_[a.round];
    if (a.node_rank >= a.num_nodes || a.num_nodes < min_ || a.num_nodes > max_) {
      return absl::StrCat("assignment of node rank ", a.node_rank, " of ", a.num_nodes, where);
    }
    if (v.num_nodes < 0) {
      v.num_nodes = a.num_nodes;
      v.world_size = a.world_size;
      v.master_addr = a.master_addr;
    }
    if (a.num_nodes != v.num_nodes || a.world_size != v.world_size ||
        a.master_addr != v.master_addr) {
      return absl::StrCat("round ", a.round, " disagrees", where);
    }
    if (!v.ranks.insert(a.node_rank).second) {
      return absl::StrCat("node rank ", a.node_rank, " given twice in round ", a.round, where);
    }
    ++completions_;
  }
  return "";
}

}  // namespace fabric::rendezvous
