#include "rendezvous/types.h"

#include <csignal>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fabric {
namespace rendezvous {

NodePlacement PlacementOf(const Assignment& assignment, const std::string& run_id) {
  NodePlacement p;
  p.run_id = run_id;
  p.round = assignment.round;
  p.restart_count = assignment.restart_count;
  p.max_restarts = assignment.max_restarts;
  p.node_rank = assignment.node_rank;
  p.num_nodes = assignment.num_nodes;
  p.global_rank_base = assignment.global_rank_base;
  p.local_world_size = assignment.local_world_size;
  p.world_size = assignment.world_size;
  p.master_addr = assignment.master_addr;
  p.master_port = assignment.master_port;
  return p;
}

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kSessionOpened: return "session-opened";
    case EventType::kRoundChanged: return "round-changed";
    case EventType::kRunFailed: return "run-failed";
    case EventType::kRunSucceeded: return "run-succeeded";
    case EventType::kStandby: return "standby";
    case EventType::kConnectionLost: return "connection-lost";
  }
  return "unknown";
}

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kForming: return "forming";
    case Phase::kRunning: return "running";
    case Phase::kFailed: return "failed";
    case Phase::kSucceeded: return "succeeded";
  }
  return "unknown";
}

std::string DescribeFailure(const WorkerFailure& f) {
  std::string how;
  if (f.signal > 0) {
    const char* name = sigabbrev_np(f.signal);
    how = absl::StrCat("was killed by signal ", f.signal,
                       name ? absl::StrCat(" (SIG", name, ")") : "");
  } else {
    how = absl::StrCat("exited with code ", f.exit_code);
  }
  std::string out = absl::StrCat("rank ", f.global_rank, " (node ", f.node_id, ", node rank ",
                                 f.node_rank, ", local rank ", f.local_rank, ") ", how);
  if (!f.message.empty()) absl::StrAppend(&out, ": ", f.message);
  return out;
}

}  // namespace rendezvous
}  // namespace fabric
