// AssignNodeRanks: who takes part in a round and with which node rank, a pure function
// of the waiting nodes (tested by table in rank_assignment_test).
//
//   Who: at most max_nodes of them, previous members first (by their old rank), then in
//   join order.
//   Ranks: a requested rank (--node-rank) when it is free and < the node count; else a
//   previous member keeps its old rank when free; the rest fill the gaps in join order.
#ifndef FABRIC_RENDEZVOUS_RANK_ASSIGNMENT_H_
#define FABRIC_RENDEZVOUS_RANK_ASSIGNMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fabric {
namespace rendezvous {

struct RankCandidate {
  std::string node_id;
  int requested_rank = -1;           // -1: none
  std::optional<int> previous_rank;  // its rank in the last round, if it was a member
  int64_t join_seq = 0;              // join order (smaller: earlier)
};

// The chosen nodes' ids, index = node rank. REQUIRES: max_nodes >= 1; node ids unique.
std::vector<std::string> AssignNodeRanks(const std::vector<RankCandidate>& candidates,
                                         int max_nodes);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_RANK_ASSIGNMENT_H_
