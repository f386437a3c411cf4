#include "rendezvous/types.h"

#include <csignal>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

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

std::string DescribeNodeLoss(const std::string& node_id, const std::string& why, int node_rank) {
  std::string s = absl::StrCat("node '", node_id, "' lost: ", why);
  if (node_rank >= 0) absl::StrAppend(&s, " (node rank ", node_rank, ")");
  return s;
}

std::optional<NodeLoss> FindNodeLoss(absl::string_view text) {
  constexpr absl::string_view kLost = "' lost: ";
  constexpr absl::string_view kNode = "node '";
  const size_t lost = text.find(kLost);
  if (lost == absl::string_view::npos) return std::nullopt;
  const size_t node = text.rfind(kNode, lost);
  if (node == absl::string_view::npos) return std::nullopt;
  NodeLoss out;
  out.node_id = std::string(text.substr(node + kNode.size(), lost - node - kNode.size()));
  if (out.node_id.empty() || out.node_id.find_first_of("'\n") != std::string::npos) {
    return std::nullopt;
  }
  absl::string_view rest = text.substr(lost + kLost.size());
  rest = rest.substr(0, rest.find('\n'));
  if (size_t left = rest.find(" node(s) left, below min_nodes="); left != absl::string_view::npos) {
    const size_t semi = rest.rfind("; ", left);
    if (semi != absl::string_view::npos) rest = rest.substr(0, semi);
  }
  constexpr absl::string_view kRank = " (node rank ";
  if (const size_t r = rest.rfind(kRank);
      r != absl::string_view::npos && absl::EndsWith(rest, ")")) {
    int rank = -1;
    const absl::string_view digits =
        rest.substr(r + kRank.size(), rest.size() - r - kRank.size() - 1);
    if (absl::SimpleAtoi(digits, &rank) && rank >= 0) {
      out.node_rank = rank;
      rest = rest.substr(0, r);
    }
  }
  out.why = std::string(rest);
  return out;
}

}  // namespace rendezvous
}  // namespace fabric
