// RendezvousState: the pure state machine of one run's rendezvous (membership, rounds,
// liveness, restart budget, outcome). No I/O and no threads: every input carries the
// current time from an injected Clock, and every consequence is returned as a list of
// Effects (complete a pending Join, push an event to a node's session) that the gRPC
// adapter delivers. See doc/rendezvous.md for the protocol.
//
// Every node the state knows has exactly one NodeRecord (in nodes_, by node id), and the
// record's role says where the node stands, so no node is in two roles by construction:
//   kMember    in the running round (members_ lists them by node rank);
//   kWaiting   joined the round being formed, or waits as a spare while one runs;
//   kExpected  a member of the interrupted round that has not re-joined yet;
//   kIdle      known but in no round: a session only, a join withdrawn or timed out, a
//              previous member the next round went on without, any node of a failed run;
//   kDeparted  lost, left, or withdrew with no session open: it gets no events, and its
//              record is kept only while it holds a rank of the last completed round
//              (so that a node that comes back keeps its rank).
// The record holds every per-node fact (last join, join order, last rank, success in the
// running round, session and liveness times). Besides nodes_, only derived views are kept:
// members_ (the running round's assignment, by node rank) and the counts of records per
// role and of members that succeeded. Roles change only through SetRole, which keeps the
// counts (state_records.cc); CheckRecords() checks the views against the records.
//
// Thread safety: none; the owner serialises calls (RendezvousService holds a mutex).
#ifndef FABRIC_RENDEZVOUS_STATE_H_
#define FABRIC_RENDEZVOUS_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rendezvous/types.h"

namespace fabric {
namespace rendezvous {

struct StateOptions {
  // When set, the only run id accepted; otherwise the first caller's run id is adopted.
  std::string run_id;
  // After min_nodes have joined, wait this long for more before completing the round.
  absl::Duration last_call_timeout = absl::Seconds(1);
  // A round that has not reached min_nodes this long after it started forming fails
  // its waiting joiners with DEADLINE_EXCEEDED.
  absl::Duration join_timeout = absl::Seconds(600);
  // Assignments list every member only up to this many nodes (the list is O(nodes) per
  // node, so O(nodes^2) per round); larger jobs get an empty list and use Status().
  int max_members_in_assignment = 256;
  // A node with an open session that sends nothing for this long is lost; a member
  // that never opens its session is lost this long after its round completed.
  absl::Duration keepalive_timeout = absl::Seconds(5);
};

// A consequence of a state transition, delivered by the adapter.
struct Effect {
  enum class Kind { kCompleteJoin, kPushEvent };
  Kind kind = Kind::kPushEvent;
  std::string node_id;
  // kCompleteJoin: the Join outcome (assignment or error).
  absl::StatusOr<Assignment> join_result = absl::UnknownError("unset");
  // kPushEvent: the event to push on the node's session.
  Event event;
};

class RendezvousState {
 public:
  explicit RendezvousState(const StateOptions& options);
  RendezvousState(const RendezvousState&) = delete;
  RendezvousState& operator=(const RendezvousState&) = delete;

  // Registers `request` for the round being formed (or as a spare / a trigger for a new
  // round while one runs). Returns OK with the join pending: the outcome arrives later
  // as a kCompleteJoin effect for request.node_id (possibly within the same call).
  // Errors (nothing changes): FailedPrecondition for a run-id / version / min / max /
  // max_restarts mismatch (naming both values) or a finished run; InvalidArgument for
  // a malformed request; AlreadyExists for a node rank already requested by another
  // node.
  absl::Status Join(const JoinRequest& request, absl::Time now, std::vector<Effect>* effects);

  // A pending Join whose caller went away (RPC cancelled): the node stops waiting.
  void WithdrawJoin(const std::string& node_id, absl::Time now, std::vector<Effect>* effects);

  // A session (event stream) opened by `node_id`. Returns a session id that identifies
  // this stream in later calls, or FailedPrecondition for a run id mismatch.
  // When the run has already finished, the terminal event is pushed at once.
  absl::StatusOr<int64_t> OpenSession(const std::string& run_id, const std::string& node_id,
                                      absl::Time now, std::vector<Effect>* effects);
  // A keep-alive on session `session_id`.
  void KeepAlive(const std::string& node_id, int64_t session_id, absl::Time now);
  // The session stream closed (client gone or connection broken): the node is lost
  // unless it already left, succeeded, or a newer session replaced this one.
  void CloseSession(const std::string& node_id, int64_t session_id, absl::Time now,
                    std::vector<Effect>* effects);

  // A worker failure on `failure.node_id` in `round`. Spends one restart and bumps the
  // round, or fails the run when the budget is spent. ABORTED for a stale round (the
  // caller re-joins); FailedPrecondition when the node is not a member.
  absl::StatusOr<FailureReportResult> ReportFailure(const std::string& node_id, int64_t round,
                                                    const WorkerFailure& failure, absl::Time now,
                                                    std::vector<Effect>* effects);

  // Every worker of `node_id` succeeded in `round`. When every member has, the run is
  // closed (kRunSucceeded to all) and true is returned. ABORTED for a stale round.
  absl::StatusOr<bool> ReportSuccess(const std::string& node_id, int64_t round, absl::Time now,
                                     std::vector<Effect>* effects);

  // The node leaves on purpose; treated like a loss for the others (reason "left").
  void Leave(const std::string& node_id, const std::string& reason, absl::Time now,
             std::vector<Effect>* effects);

  // Deadlines: last-call window, join timeout, missed keep-alives.
  void Tick(absl::Time now, std::vector<Effect>* effects);

  // ABORTED naming both rounds unless `round` is the current one (or 0 = unfenced);
  // FailedPrecondition for a run id mismatch.
  absl::Status CheckFence(const std::string& run_id, int64_t round) const;

  RunStatus Status() const;
  // The nodes whose session stream is open now (a lost or departed node is not).
  std::vector<std::string> ConnectedNodes() const;
  int64_t round() const { return round_; }
  const std::string& run_id() const { return run_id_; }
  Phase phase() const { return phase_; }
  // For tests and the fuzzer: "" when the node records agree with the views derived from
  // them (members_, the counts), else what disagrees. O(known nodes).
  std::string CheckRecords() const;

 private:
  enum class Role { kMember, kWaiting, kExpected, kIdle, kDeparted };
  static constexpr int kNumRoles = 5;
  // Everything known about one node (see the top of this file for the roles).
  struct NodeRecord {
    Role role = Role::kIdle;
    JoinRequest request;           // its last join; empty unless member, waiting or expected
    int64_t join_seq = 0;          // join order while waiting (a retried join keeps it)
    std::optional<int> last_rank;  // its node rank in the last completed round
    bool succeeded = false;        // a member whose workers all succeeded in this round
    int64_t session_id = 0;        // 0: no open session
    absl::Time last_seen;
    absl::Time member_since;  // when it became a member of the running round
  };
  using NodeMap = std::map<std::string, NodeRecord>;

  absl::Status CheckRunId(const std::string& run_id) const;
  absl::Status CheckConfig(const JoinRequest& request) const;
  bool IsMember(const std::string& node_id) const;
  // The record of `node_id`, made if new; a departed node comes back as kIdle with fresh
  // liveness (it keeps its last rank).
  NodeRecord& Track(const std::string& node_id);
  // The only way a role changes (keeps the counts). Leaving kMember forgets success;
  // becoming kIdle or kDeparted forgets the join.
  void SetRole(NodeRecord& node, Role role);
  // Marks the node departed (no session); drops its record unless it holds a last rank.
  // `it` is invalid afterwards.
  void Depart(NodeMap::iterator it);
  // Drops the record; returns the next one.
  NodeMap::iterator Forget(NodeMap::iterator it);
  int RoleCount(Role role) const { return role_count_[static_cast<int>(role)]; }
  // The record of `node_id` if `session_id` is its open session (or 0 and it has none);
  // nullptr for an unknown or departed node.
  NodeRecord* FindSession(const std::string& node_id, int64_t session_id);
  void MaybeComplete(absl::Time now, std::vector<Effect>* effects);
  void CompleteRound(absl::Time now, std::vector<Effect>* effects);
  // Ends the running round (or the forming one) and starts round_+1: every other
  // known node gets kRoundChanged.
  void BumpRound(const std::string& reason, const WorkerFailure* cause, absl::Time now,
                 std::vector<Effect>* effects);
  void FailRun(const std::string& reason, const WorkerFailure* cause, std::vector<Effect>* effects);
  void NodeLost(const std::string& node_id, const std::string& why, absl::Time now,
                std::vector<Effect>* effects);
  // Pushes `event` to every node that is not departed, by node id.
  void PushToAll(const Event& event, const std::string& skip_node, std::vector<Effect>* effects);
  // The ids of the nodes in `role`, by node id. O(known nodes).
  std::vector<std::string> NodesIn(Role role) const;
  int AliveCount() const;

  StateOptions options_;
  std::string run_id_;
  bool configured_ = false;
  std::string config_source_;  // node id whose join set min/max/max_restarts
  int min_nodes_ = 0, max_nodes_ = 0, max_restarts_ = 0;

  Phase phase_ = Phase::kForming;
  int64_t round_ = 1;
  bool ever_completed_ = false;
  int restart_count_ = 0;
  std::string failure_reason_;
  bool has_root_cause_ = false;
  WorkerFailure root_cause_;

  // Every node known, by node id (the order of every fan-out of events and errors).
  NodeMap nodes_;
  // The running round's assignment, by node rank: exactly the kMember records while the
  // run is forming or running; once it has succeeded, the final round (a member lost
  // after that stays listed).
  std::vector<Member> members_;
  int role_count_[kNumRoles] = {};  // records per role
  int succeeded_count_ = 0;         // kMember records with succeeded set
  absl::Time last_liveness_scan_ = absl::InfinitePast();
  absl::Time forming_since_ = absl::InfinitePast();
  absl::Time last_call_deadline_ = absl::InfiniteFuture();
  int64_t next_seq_ = 1;
  int64_t next_session_ = 1;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_STATE_H_
