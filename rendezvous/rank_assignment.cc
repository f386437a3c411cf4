#include "rendezvous/rank_assignment.h"

#include <algorithm>
#include <tuple>

namespace fabric {
namespace rendezvous {

std::vector<std::string> AssignNodeRanks(const std::vector<RankCandidate>& candidates,
                                         int max_nodes) {
  std::vector<const RankCandidate*> order;
  for (const RankCandidate& c : candidates) order.push_back(&c);
  auto who_first = [](const RankCandidate* c) {
    return std::make_tuple(c->previous_rank ? 0 : 1, c->previous_rank.value_or(0), c->join_seq,
                           c->node_id);
  };
  std::sort(order.begin(), order.end(), [&](const RankCandidate* a, const RankCandidate* b) {
    return who_first(a) < who_first(b);
  });
  const int n = std::min<int>(static_cast<int>(order.size()), max_nodes);
  order.resize(n);

  std::vector<const RankCandidate*> slot(n, nullptr);
  std::vector<const RankCandidate*> rest;
  for (const RankCandidate* c : order) {
    const int r = c->requested_rank;
    if (r >= 0 && r < n && slot[r] == nullptr) {
      slot[r] = c;
    } else {
      rest.push_back(c);
    }
  }
  std::vector<const RankCandidate*> unplaced;
  for (const RankCandidate* c : rest) {
    if (c->requested_rank < 0 && c->previous_rank && *c->previous_rank < n &&
        slot[*c->previous_rank] == nullptr) {
      slot[*c->previous_rank] = c;
    } else {
      unplaced.push_back(c);
    }
  }
  std::sort(unplaced.begin(), unplaced.end(), [](const RankCandidate* a, const RankCandidate* b) {
    return std::tie(a->join_seq, a->node_id) < std::tie(b->join_seq, b->node_id);
  });
  size_t next = 0;
  std::vector<std::string> ids(n);
  for (int r = 0; r < n; ++r) {
    if (slot[r] == nullptr) slot[r] = unplaced[next++];
    ids[r] = slot[r]->node_id;
  }
  return ids;
}

}  // namespace rendezvous
}  // namespace fabric
