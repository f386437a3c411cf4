// RendezvousState (state.h), its transitions: one file over 500 lines because it is one
// state machine; every transition (join, session, failure, success, leave, tick) moves the
// same node records between roles, and splitting them would spread one invariant over
// files. Apart: the record bookkeeping and self-check (state_records.cc), the pure rank
// assignment (rank_assignment.h), types and conversion.
#include "rendezvous/state.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/placement.h"
#include "rendezvous/rank_assignment.h"

namespace fabric {
namespace rendezvous {
namespace {

Effect CompleteJoin(const std::string& node_id, absl::StatusOr<Assignment> result) {
  Effect e;
  e.kind = Effect::Kind::kCompleteJoin;
  e.node_id = node_id;
  e.join_result = std::move(result);
  return e;
}

Effect Push(const std::string& node_id, const Event& event) {
  Effect e;
  e.kind = Effect::Kind::kPushEvent;
  e.node_id = node_id;
  e.event = event;
  return e;
}

}  // namespace

RendezvousState::RendezvousState(const StateOptions& options)
    : options_(options), run_id_(options.run_id) {}

absl::Status RendezvousState::CheckRunId(const std::string& run_id) const {
  if (!run_id_.empty() && run_id != run_id_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run id mismatch: this node uses run id '", run_id, "' but the rendezvous serves run '",
        run_id_, "'; give every node the same --run-id"));
  }
  return absl::OkStatus();
}

absl::Status RendezvousState::CheckConfig(const JoinRequest& r) const {
  auto mismatch = [&](const char* name, int theirs, int ours) {
    return absl::FailedPreconditionError(
        absl::StrCat("configuration mismatch: node '", r.node_id, "' has ", name, "=", theirs,
                     " but the run has ", name, "=", ours, " (set by node '", config_source_,
                     "'); start every node with the same --num-nodes and --max-restarts"));
  };
  if (r.min_nodes != min_nodes_) return mismatch("min_nodes", r.min_nodes, min_nodes_);
  if (r.max_nodes != max_nodes_) return mismatch("max_nodes", r.max_nodes, max_nodes_);
  if (r.max_restarts != max_restarts_) {
    return mismatch("max_restarts", r.max_restarts, max_restarts_);
  }
  return absl::OkStatus();
}

absl::Status RendezvousState::Join(const JoinRequest& r, absl::Time now,
                                   std::vector<Effect>* effects) {
  if (r.protocol_version != kProtocolVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("protocol version mismatch: node '", r.node_id, "' speaks version ",
                     r.protocol_version, " but this rendezvous server speaks version ",
                     kProtocolVersion, "; run the same fabric-run build on every node"));
  }
  if (r.node_id.empty()) return absl::InvalidArgumentError("join: empty node id");
  if (r.run_id.empty()) return absl::InvalidArgumentError("join: empty run id");
  if (r.local_world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("join: node '", r.node_id,
                                                   "' has local_world_size=", r.local_world_size,
                                                   "; it must be >= 1"));
  }
  if (r.min_nodes < 1 || r.max_nodes < r.min_nodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("join: invalid node range min_nodes=", r.min_nodes, " max_nodes=", r.max_nodes,
                     "; need 1 <= min <= max"));
  }
  if (r.max_restarts < 0) return absl::InvalidArgumentError("join: max_restarts < 0");
  if (r.requested_node_rank < -1 || r.requested_node_rank >= r.max_nodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("join: node '", r.node_id, "' requests node rank ", r.requested_node_rank,
                     " but ranks run from 0 to max_nodes-1=", r.max_nodes - 1));
  }
  if (auto s = CheckRunId(r.run_id); !s.ok()) return s;
  if (configured_) {
    if (auto s = CheckConfig(r); !s.ok()) return s;
  }
  if (phase_ == Phase::kFailed) {
    return absl::FailedPreconditionError(
        absl::StrCat("run '", run_id_, "' has failed: ", failure_reason_));
  }
  if (phase_ == Phase::kSucceeded) {
    return absl::FailedPreconditionError(absl::StrCat("run '", run_id_, "' has already succeeded"));
  }
  if (r.requested_node_rank >= 0) {
    // Only members, waiting and expected nodes hold a join (SetRole).
    for (const auto& [id, other] : nodes_) {
      if (id != r.node_id && other.request.requested_node_rank == r.requested_node_rank) {
        return absl::AlreadyExistsError(
            absl::StrCat("duplicate node rank: node '", r.node_id, "' requests node rank ",
                         r.requested_node_rank, " which node '", id,
                         "' already holds; give each node a distinct --node-rank"));
      }
    }
  }
  if (run_id_.empty()) run_id_ = r.run_id;
  if (!configured_) {
    configured_ = true;
    min_nodes_ = r.min_nodes;
    max_nodes_ = r.max_nodes;
    max_restarts_ = r.max_restarts;
    config_source_ = r.node_id;
  }
  NodeRecord& node = Track(r.node_id);
  if (node.session_id == 0) node.last_seen = now;

  if (phase_ == Phase::kRunning) {
    if (node.role == Role::kMember) {  // BumpRound makes it kExpected
      BumpRound(
          absl::StrCat("node '", r.node_id, "' re-joined while round ", round_, " was running"),
          nullptr, now, effects);
    } else if (static_cast<int>(members_.size()) < max_nodes_) {
      BumpRound(absl::StrCat("node '", r.node_id, "' joined; growing from ", members_.size(),
                             " to ", members_.size() + 1, " nodes"),
                nullptr, now, effects);
    } else {
      Event standby;
      standby.type = EventType::kStandby;
      standby.round = round_;
      standby.reason = absl::StrCat("the run is full (max_nodes=", max_nodes_,
                                    "); waiting as a spare for the next round");
      effects->push_back(Push(r.node_id, standby));
    }
  }
  if (phase_ == Phase::kForming && forming_since_ == absl::InfinitePast()) forming_since_ = now;
  if (node.role != Role::kWaiting) {  // a retried join keeps its place in line
    SetRole(node, Role::kWaiting);
    node.join_seq = next_seq_++;
  }
  node.request = r;
  MaybeComplete(now, effects);
  return absl::OkStatus();
}

void RendezvousState::WithdrawJoin(const std::string& node_id, absl::Time now,
                                   std::vector<Effect>* effects) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.role != Role::kWaiting) return;
  if (it->second.session_id == 0) {
    Depart(it);
  } else {
    SetRole(it->second, Role::kIdle);
  }
  MaybeComplete(now, effects);
}

void RendezvousState::MaybeComplete(absl::Time now, std::vector<Effect>* effects) {
  if (phase_ != Phase::kForming) return;
  const int n = RoleCount(Role::kWaiting);
  if (n >= max_nodes_ && n > 0) {
    CompleteRound(now, effects);
    return;
  }
  if (n < min_nodes_ || n == 0) {
    last_call_deadline_ = absl::InfiniteFuture();
    return;
  }
  // min <= n < max: wait for every previous member to come back, then a last call.
  if (RoleCount(Role::kExpected) > 0) return;
  if (last_call_deadline_ == absl::InfiniteFuture()) {
    last_call_deadline_ = now + options_.last_call_timeout;
  }
  if (now >= last_call_deadline_) CompleteRound(now, effects);
}

void RendezvousState::CompleteRound(absl::Time now, std::vector<Effect>* effects) {
  std::vector<RankCandidate> candidates;
  for (const auto& [id, node] : nodes_) {
    if (node.role != Role::kWaiting) continue;
    candidates.push_back(
        RankCandidate{id, node.request.requested_node_rank, node.last_rank, node.join_seq});
  }
  const std::vector<std::string> by_rank = AssignNodeRanks(candidates, max_nodes_);
  const int n = static_cast<int>(by_rank.size());

  // The last round's ranks are forgotten: its members that never came back are dropped
  // (departed ones entirely).
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    NodeRecord& node = it->second;
    node.last_rank.reset();
    if (node.role == Role::kExpected) SetRole(node, Role::kIdle);
    it = node.role == Role::kDeparted ? Forget(it) : std::next(it);
  }
  std::vector<int> sizes;
  for (const std::string& id : by_rank) sizes.push_back(nodes_.at(id).request.local_world_size);
  const std::vector<int> bases = RankBases(sizes);
  members_.clear();
  for (int r = 0; r < n; ++r) {
    NodeRecord& node = nodes_.at(by_rank[r]);
    SetRole(node, Role::kMember);
    node.last_rank = r;
    node.member_since = now;
    if (node.session_id == 0) node.last_seen = now;
    const JoinRequest& req = node.request;
    members_.push_back(Member{by_rank[r], r, req.address, req.local_world_size, bases[r]});
  }
  Assignment common;
  common.round = round_;
  common.num_nodes = n;
  common.world_size = bases[n];
  common.master_addr = members_[0].address;
  common.master_port = nodes_.at(by_rank[0]).request.master_port;
  common.restart_count = restart_count_;
  common.max_restarts = max_restarts_;
  if (n <= options_.max_members_in_assignment) common.members = members_;

  for (const Member& m : members_) {
    Assignment a = common;
    a.node_rank = m.node_rank;
    a.global_rank_base = m.global_rank_base;
    a.local_world_size = m.local_world_size;
    effects->push_back(CompleteJoin(m.node_id, std::move(a)));
  }
  for (const auto& [id, node] : nodes_) {
    if (node.role != Role::kWaiting) continue;
    Event standby;
    standby.type = EventType::kStandby;
    standby.round = round_;
    standby.reason = absl::StrCat("round ", round_, " is full (max_nodes=", max_nodes_,
                                  "); waiting as a spare for the next round");
    effects->push_back(Push(id, standby));
  }
  phase_ = Phase::kRunning;
  ever_completed_ = true;
  forming_since_ = absl::InfinitePast();
  last_call_deadline_ = absl::InfiniteFuture();
}

void RendezvousState::PushToAll(const Event& event, const std::string& skip_node,
                                std::vector<Effect>* effects) {
  for (const auto& [id, node] : nodes_) {
    if (node.role != Role::kDeparted && id != skip_node) effects->push_back(Push(id, event));
  }
}

void RendezvousState::BumpRound(const std::string& reason, const WorkerFailure* cause,
                                absl::Time now, std::vector<Effect>* effects) {
  Event event;
  event.type = EventType::kRoundChanged;
  event.round = round_ + 1;
  event.reason = reason;
  event.restart_count = restart_count_;
  if (cause != nullptr) {
    event.has_root_cause = true;
    event.root_cause = *cause;
  }
  for (const Member& m : members_) {
    SetRole(nodes_.at(m.node_id), Role::kExpected);  // keeps its join and last rank
    effects->push_back(Push(m.node_id, event));
  }
  members_.clear();
  ++round_;
  phase_ = Phase::kForming;
  forming_since_ = now;
  last_call_deadline_ = absl::InfiniteFuture();
}

void RendezvousState::FailRun(const std::string& reason, const WorkerFailure* cause,
                              std::vector<Effect>* effects) {
  phase_ = Phase::kFailed;
  failure_reason_ = reason;
  if (cause != nullptr) {
    has_root_cause_ = true;
    root_cause_ = *cause;
  }
  Event event;
  event.type = EventType::kRunFailed;
  event.round = round_;
  event.reason = reason;
  event.has_root_cause = has_root_cause_;
  event.root_cause = root_cause_;
  event.restart_count = restart_count_;
  PushToAll(event, "", effects);
  for (auto& [id, node] : nodes_) {
    if (node.role == Role::kWaiting) {
      effects->push_back(CompleteJoin(
          id, absl::FailedPreconditionError(absl::StrCat("run '", run_id_, "' failed: ", reason))));
    }
    if (node.role != Role::kDeparted) SetRole(node, Role::kIdle);
  }
  members_.clear();
}

void RendezvousState::NodeLost(const std::string& node_id, const std::string& why, absl::Time now,
                               std::vector<Effect>* effects) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.role == Role::kDeparted) return;
  const Role role = it->second.role;
  const int rank = it->second.last_rank.value_or(-1);
  Depart(it);  // after a finished run, members_ keeps listing a lost member
  if (phase_ == Phase::kFailed || phase_ == Phase::kSucceeded) return;
  const std::string what = DescribeNodeLoss(node_id, why, -1);
  if (role == Role::kWaiting) {
    // Not UNAVAILABLE: the caller must not retry the join of a node the run lost.
    effects->push_back(CompleteJoin(node_id, absl::FailedPreconditionError(what)));
  } else if (role == Role::kExpected) {
    // Already counted out of the running round; fall through to the min check.
  } else if (role == Role::kMember) {
    members_.erase(std::remove_if(members_.begin(), members_.end(),
                                  [&](const Member& m) { return m.node_id == node_id; }),
                   members_.end());
    const std::string reason = DescribeNodeLoss(node_id, why, rank);
    if (AliveCount() < min_nodes_) {
      FailRun(
          absl::StrCat(reason, "; ", AliveCount(), " node(s) left, below min_nodes=", min_nodes_),
          nullptr, effects);
      return;
    }
    BumpRound(reason, nullptr, now, effects);
  } else {
    return;  // kIdle: in no round
  }
  if (ever_completed_ && phase_ == Phase::kForming && AliveCount() < min_nodes_) {
    FailRun(absl::StrCat(what, "; ", AliveCount(), " node(s) left, below min_nodes=", min_nodes_),
            nullptr, effects);
    return;
  }
  MaybeComplete(now, effects);
}

absl::StatusOr<int64_t> RendezvousState::OpenSession(const std::string& run_id,
                                                     const std::string& node_id, absl::Time now,
                                                     std::vector<Effect>* effects) {
  if (node_id.empty()) return absl::InvalidArgumentError("session: empty node id");
  if (auto s = CheckRunId(run_id); !s.ok()) return s;
  if (run_id_.empty()) run_id_ = run_id;
  NodeRecord& node = Track(node_id);
  node.session_id = next_session_++;
  node.last_seen = now;
  if (phase_ == Phase::kFailed || phase_ == Phase::kSucceeded) {
    Event event;
    event.type = phase_ == Phase::kFailed ? EventType::kRunFailed : EventType::kRunSucceeded;
    event.round = round_;
    event.reason = failure_reason_;
    event.has_root_cause = has_root_cause_;
    event.root_cause = root_cause_;
    event.restart_count = restart_count_;
    effects->push_back(Push(node_id, event));
  }
  return node.session_id;
}

void RendezvousState::KeepAlive(const std::string& node_id, int64_t session_id, absl::Time now) {
  if (NodeRecord* node = FindSession(node_id, session_id)) node->last_seen = now;
}

void RendezvousState::CloseSession(const std::string& node_id, int64_t session_id, absl::Time now,
                                   std::vector<Effect>* effects) {
  if (FindSession(node_id, session_id) == nullptr) return;
  NodeLost(node_id, "its session stream closed (agent exited or connection broken)", now, effects);
}

absl::Status RendezvousState::CheckFence(const std::string& run_id, int64_t round) const {
  if (auto s = CheckRunId(run_id); !s.ok()) return s;
  if (round != 0 && round != round_) {
    return absl::AbortedError(absl::StrCat("stale round ", round, ": the current round is ", round_,
                                           " (", PhaseName(phase_),
                                           "); stop the workers and re-join"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FailureReportResult> RendezvousState::ReportFailure(const std::string& node_id,
                                                                   int64_t round,
                                                                   const WorkerFailure& failure,
                                                                   absl::Time now,
                                                                   std::vector<Effect>* effects) {
  if (phase_ == Phase::kFailed) {
    return absl::FailedPreconditionError(
        absl::StrCat("run '", run_id_, "' has already failed: ", failure_reason_));
  }
  if (round != round_ || phase_ != Phase::kRunning) {
    return absl::AbortedError(absl::StrCat("stale round ", round, ": the current round is ", round_,
                                           " (", PhaseName(phase_),
                                           "); stop the workers and re-join"));
  }
  if (!IsMember(node_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("node '", node_id, "' is not a member of round ", round_));
  }
  FailureReportResult result;
  const std::string what = DescribeFailure(failure);
  if (restart_count_ < max_restarts_) {
    ++restart_count_;
    BumpRound(
        absl::StrCat("worker failure: ", what, "; restart ", restart_count_, "/", max_restarts_),
        &failure, now, effects);
    result.round = round_;
    result.restarts_left = max_restarts_ - restart_count_;
    MaybeComplete(now, effects);
  } else {
    FailRun(absl::StrCat("worker failure: ", what,
                         "; no restarts left (max_restarts=", max_restarts_, ")"),
            &failure, effects);
    result.round = round_;
    result.run_failed = true;
  }
  return result;
}

absl::StatusOr<bool> RendezvousState::ReportSuccess(const std::string& node_id, int64_t round,
                                                    absl::Time now, std::vector<Effect>* effects) {
  (void)now;
  if (phase_ == Phase::kSucceeded) return true;
  if (auto s = CheckFence(run_id_, round); !s.ok()) return s;
  if (phase_ != Phase::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("run '", run_id_, "' is ", PhaseName(phase_), ": ", failure_reason_));
  }
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.role != Role::kMember) {
    return absl::FailedPreconditionError(
        absl::StrCat("node '", node_id, "' is not a member of round ", round_));
  }
  if (!it->second.succeeded) {
    it->second.succeeded = true;
    ++succeeded_count_;
  }
  if (succeeded_count_ < static_cast<int>(members_.size())) return false;
  phase_ = Phase::kSucceeded;
  Event event;
  event.type = EventType::kRunSucceeded;
  event.round = round_;
  event.reason = absl::StrCat("all ", members_.size(), " nodes succeeded in round ", round_);
  event.restart_count = restart_count_;
  PushToAll(event, "", effects);
  for (auto& [id, node] : nodes_) {
    if (node.role != Role::kWaiting) continue;
    effects->push_back(CompleteJoin(
        id, absl::FailedPreconditionError(absl::StrCat("run '", run_id_, "' has succeeded"))));
    SetRole(node, Role::kIdle);
  }
  return true;
}

void RendezvousState::Leave(const std::string& node_id, const std::string& reason, absl::Time now,
                            std::vector<Effect>* effects) {
  NodeLost(node_id, absl::StrCat("it left (", reason.empty() ? "no reason given" : reason, ")"),
           now, effects);
}

void RendezvousState::Tick(absl::Time now, std::vector<Effect>* effects) {
  const int expected = RoleCount(Role::kExpected);
  if (phase_ == Phase::kForming && (RoleCount(Role::kWaiting) > 0 || expected > 0) &&
      now - forming_since_ >= options_.join_timeout) {
    const int n = RoleCount(Role::kWaiting);
    if (n >= min_nodes_ && n > 0) {
      CompleteRound(now, effects);  // previous members that never came back are dropped
    } else {
      const std::vector<std::string> ids = NodesIn(Role::kWaiting);
      std::string msg = absl::StrCat(
          "rendezvous timed out after ", absl::FormatDuration(options_.join_timeout), ": ", n, "/",
          min_nodes_, " nodes joined round ", round_, " (", absl::StrJoin(ids, ", "),
          "); min_nodes=", min_nodes_, ", max_nodes=", max_nodes_);
      if (expected > 0) {
        absl::StrAppend(&msg, "; missing ", absl::StrJoin(NodesIn(Role::kExpected), ", "));
      }
      if (ever_completed_) {
        FailRun(msg, nullptr, effects);
      } else {
        for (const std::string& id : ids) {
          effects->push_back(CompleteJoin(id, absl::DeadlineExceededError(msg)));
          SetRole(nodes_.at(id), Role::kIdle);
        }
        configured_ = false;  // nothing ran yet: the next attempt starts afresh
        forming_since_ = absl::InfinitePast();
      }
    }
  }
  MaybeComplete(now, effects);

  // The liveness scan is O(nodes): a few times per keep-alive timeout is enough.
  if (now - last_liveness_scan_ < options_.keepalive_timeout / 20) return;
  last_liveness_scan_ = now;
  std::vector<std::pair<std::string, std::string>> lost;
  for (const auto& [id, node] : nodes_) {
    if (node.role == Role::kDeparted) continue;
    if (node.session_id != 0 && now - node.last_seen > options_.keepalive_timeout) {
      lost.emplace_back(
          id, absl::StrCat("no keep-alive for ", absl::FormatDuration(now - node.last_seen),
                           " (keepalive timeout ", absl::FormatDuration(options_.keepalive_timeout),
                           ")"));
    } else if (node.session_id == 0 && node.role == Role::kMember &&
               now - node.member_since > options_.keepalive_timeout) {
      lost.emplace_back(id, "it never opened its session stream");
    }
  }
  for (const auto& [id, why] : lost) NodeLost(id, why, now, effects);
}

RunStatus RendezvousState::Status() const {
  RunStatus s;
  s.run_id = run_id_;
  s.phase = phase_;
  s.round = round_;
  s.members = members_;
  s.waiting = NodesIn(Role::kWaiting);
  s.restart_count = restart_count_;
  s.max_restarts = max_restarts_;
  s.min_nodes = min_nodes_;
  s.max_nodes = max_nodes_;
  s.failure_reason = failure_reason_;
  s.has_root_cause = has_root_cause_;
  s.root_cause = root_cause_;
  return s;
}

}  // namespace rendezvous
}  // namespace fabric
