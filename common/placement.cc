#include "common/placement.h"

namespace fabric {

std::vector<int> RankBases(const std::vector<int>& local_world_sizes) {
  std::vector<int> bases;
  bases.reserve(local_world_sizes.size() + 1);
  int next = 0;
  for (int size : local_world_sizes) {
    bases.push_back(next);
    next += size;
  }
  bases.push_back(next);
  return bases;
}

NodePlacement UniformPlacement(int node_rank, int num_nodes, int local_world_size) {
  NodePlacement p;
  p.node_rank = node_rank;
  p.num_nodes = num_nodes;
  p.local_world_size = local_world_size;
  p.global_rank_base = node_rank * local_world_size;
  p.world_size = num_nodes * local_world_size;
  return p;
}

WorkerEnv ForLocalRank(const NodePlacement& placement, int local_rank) {
  WorkerEnv w;
  w.rank = placement.global_rank_base + local_rank;
  w.local_rank = local_rank;
  w.world_size = placement.world_size;
  w.local_world_size = placement.local_world_size;
  w.group_rank = placement.node_rank;
  w.group_world_size = placement.num_nodes;
  w.master_addr = placement.master_addr;
  w.master_port = placement.master_port;
  w.run_id = placement.run_id;
  w.restart_count = placement.restart_count;
  w.max_restarts = placement.max_restarts;
  w.round = placement.round;
  return w;
}

}  // namespace fabric
