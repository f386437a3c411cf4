// NodePlacement: where one node's workers sit in a job for one round, the one record of
// placement facts that the launcher, the rendezvous and SLURM planning hand around
// (ranks, sizes, node rank, MASTER_ADDR/PORT, round). Who makes it: the launcher's
// single-node plan (launcher/attempt_plan.h), a completed rendezvous round
// (rendezvous::PlacementOf, rendezvous/types.h). Who reads it: the agent, which turns
// it into each worker's environment through ForLocalRank.
//
// Pure value type and pure functions; no I/O.
#ifndef FABRIC_COMMON_PLACEMENT_H_
#define FABRIC_COMMON_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/worker_env.h"

namespace fabric {

struct NodePlacement {
  std::string run_id;        // TORCHELASTIC_RUN_ID
  int64_t round = 0;         // FABRIC_ROUND: the rendezvous round (a single node: the attempt)
  int restart_count = 0;     // TORCHELASTIC_RESTART_COUNT: restarts spent so far
  int max_restarts = 0;      // TORCHELASTIC_MAX_RESTARTS
  int node_rank = 0;         // GROUP_RANK
  int num_nodes = 1;         // GROUP_WORLD_SIZE
  int global_rank_base = 0;  // global rank of this node's local rank 0
  int local_world_size = 1;  // workers on this node
  int world_size = 1;        // workers in the job
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: not chosen yet
};

// Exclusive prefix sums of the nodes' local world sizes, nodes in node-rank order:
// entry i is the global rank of node i's local rank 0, and the extra last entry is
// the world size. {2, 3, 1} -> {0, 2, 5, 6}; {} -> {0}.
std::vector<int> RankBases(const std::vector<int>& local_world_sizes);

// Node `node_rank` of `num_nodes` nodes that each run `local_world_size` workers:
// global_rank_base = node_rank * local_world_size, world_size = num_nodes *
// local_world_size. The other fields keep their defaults.
// REQUIRES: 0 <= node_rank < num_nodes; local_world_size >= 1 (not checked).
NodePlacement UniformPlacement(int node_rank, int num_nodes, int local_world_size);

// What local rank `local_rank` of the node is told about its place in the job: RANK =
// global_rank_base + local_rank, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK =
// node_rank, GROUP_WORLD_SIZE = num_nodes, MASTER_ADDR/PORT, the run id, restart
// counts and round. The fields that are not placement (role, error file, LT_*,
// CUDA_VISIBLE_DEVICES, OMP_NUM_THREADS) keep WorkerEnv's defaults.
// REQUIRES: 0 <= local_rank < placement.local_world_size (not checked).
WorkerEnv ForLocalRank(const NodePlacement& placement, int local_rank);

}  // namespace fabric

#endif  // FABRIC_COMMON_PLACEMENT_H_
