// Plain structs of the rendezvous protocol, shared by the state machine, the gRPC
// adapter and the client library (no protobuf in them, so the agent and the tests
// never see generated code).
#ifndef FABRIC_RENDEZVOUS_TYPES_H_
#define FABRIC_RENDEZVOUS_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/placement.h"

namespace fabric {
namespace rendezvous {

// The protocol version this build speaks; a mismatch is refused at join.
inline constexpr int kProtocolVersion = 1;

struct JoinRequest {
  std::string run_id;
  std::string node_id;
  int protocol_version = kProtocolVersion;
  int local_world_size = 1;
  std::string address;           // advertised address of this node
  int requested_node_rank = -1;  // -1: none
  int master_port = 0;           // candidate MASTER_PORT if this node becomes rank 0
  int min_nodes = 1;
  int max_nodes = 1;
  int max_restarts = 0;
};

struct Member {
  std::string node_id;
  int node_rank = 0;
  std::string address;
  int local_world_size = 1;
  int global_rank_base = 0;
};

// What a node learns when its round completes.
struct Assignment {
  int64_t round = 0;
  int node_rank = 0;
  int num_nodes = 0;
  int global_rank_base = 0;
  int world_size = 0;
  int local_world_size = 0;
  std::string master_addr;
  int master_port = 0;
  int restart_count = 0;  // restarts spent so far (TORCHELASTIC_RESTART_COUNT)
  int max_restarts = 0;
  // Ordered by node rank; empty for jobs larger than the server's
  // max_members_in_assignment (256 by default): use RendezvousClient::GetStatus().
  std::vector<Member> members;
};

// The node placement an assignment describes: the one place where a completed round
// becomes the launcher's plan. `run_id` is the session's (an assignment does not carry
// it); the members list is not part of a placement.
NodePlacement PlacementOf(const Assignment& assignment, const std::string& run_id);

struct WorkerFailure {
  std::string node_id;
  int node_rank = -1;
  int global_rank = -1;
  int local_rank = -1;
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // 0 when it exited
  std::string message;
  std::string stderr_tail;
};

enum class EventType {
  kSessionOpened,
  kRoundChanged,    // stop workers, Join again
  kRunFailed,       // terminal
  kRunSucceeded,    // terminal
  kStandby,         // waiting as a spare for the next round
  kConnectionLost,  // client side only: the session stream broke (terminal)
};

const char* EventTypeName(EventType type);

struct Event {
  EventType type = EventType::kRoundChanged;
  int64_t round = 0;
  std::string reason;
  bool has_root_cause = false;
  WorkerFailure root_cause;
  int restart_count = 0;
  int keepalive_interval_ms = 0;  // kSessionOpened only
};

enum class Phase { kForming, kRunning, kFailed, kSucceeded };
const char* PhaseName(Phase phase);

struct RunStatus {
  std::string run_id;
  Phase phase = Phase::kForming;
  int64_t round = 0;
  std::vector<Member> members;
  std::vector<std::string> waiting;
  int restart_count = 0;
  int max_restarts = 0;
  int min_nodes = 0;
  int max_nodes = 0;
  std::string failure_reason;
  bool has_root_cause = false;
  WorkerFailure root_cause;
  // GetStatus(with_node_status): each node's last published status (JSON), any order.
  std::vector<std::string> node_status;
};

struct FailureReportResult {
  int64_t round = 0;  // the round after the report
  bool run_failed = false;
  int restarts_left = 0;
};

// One-line human description of a worker failure:
// "rank 3 (node node-b, local rank 1) exited with code 1: <message>".
std::string DescribeFailure(const WorkerFailure& failure);

// A node the rendezvous lost (its stream closed, its keep-alives stopped, it left), as the
// reason of the round change or run failure that it caused names it.
struct NodeLoss {
  std::string node_id;
  int node_rank = -1;  // -1: it held no rank in the running round
  std::string why;     // e.g. "its session stream closed (agent exited or connection broken)"
};

// The one wording of a node loss: "node 'ID' lost: WHY", then " (node rank N)" when
// node_rank >= 0. FindNodeLoss reads it back; keep the two together.
std::string DescribeNodeLoss(const std::string& node_id, const std::string& why, int node_rank);

// The first node loss named in `text` (a reason, or a message quoting one: the cluster
// failure summary), without the "; K node(s) left, below min_nodes=M" tail the state adds
// when the run fails for it. nullopt when `text` names none.
std::optional<NodeLoss> FindNodeLoss(absl::string_view text);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_TYPES_H_
