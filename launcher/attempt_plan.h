// AttemptPlan: where one attempt's local workers sit in the job (rank base, world
// size, node) and how they find each other (MASTER_ADDR/PORT). The gang runner
// takes a plan and does not care how it was made: PlanLocalAttempt() makes it for
// a single node; the multi-node rendezvous will make it from a round's result.
//
// WorkerEnvironment() is pure: the complete environment of one worker.
#ifndef FABRIC_LAUNCHER_ATTEMPT_PLAN_H_
#define FABRIC_LAUNCHER_ATTEMPT_PLAN_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/worker_env.h"
#include "launcher/options.h"

namespace fabric::launcher {

struct AttemptPlan {
  std::string run_id;
  int restart_count = 0;      // TORCHELASTIC_RESTART_COUNT
  int max_restarts = 0;
  int node_rank = 0;          // GROUP_RANK
  int num_nodes = 1;          // GROUP_WORLD_SIZE
  int global_rank_base = 0;   // global rank of local rank 0
  int local_world_size = 1;   // workers on this node
  int world_size = 1;         // workers in the job
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  int64_t round = 0;          // FABRIC_ROUND
};

// The single-node plan for attempt `restart_count`: ranks 0..devices-1 and a
// MASTER_PORT that was verified free just now and is not in `used_ports` (the
// earlier attempts' ports, whose stores may linger). Returns Unavailable when no
// such port can be found.
absl::StatusOr<AttemptPlan> PlanLocalAttempt(const LaunchOptions& options,
                                             const std::string& run_id, int restart_count,
                                             const std::set<int>& used_ports = {});

// `inherited` overlaid with the worker variables of `local_rank` (see
// doc/launcher.md). OMP_NUM_THREADS=1 is added when more than one worker shares
// the node and `inherited` does not set it; CUDA_VISIBLE_DEVICES is the device id
// list when one was given. `error_file` may be empty (then not set).
EnvMap WorkerEnvironment(const LaunchOptions& options, const AttemptPlan& plan,
                         int local_rank, const std::string& error_file,
                         const EnvMap& inherited);

// Under srun's task-per-node layout (`inherited` has SLURM_STEP_ID and SLURM_PROCID: this
// agent is an srun task), a worker would otherwise inherit its agent's task variables
// (SLURM_PROCID of the node, SLURM_NTASKS = nodes), and SLURM-aware libraries (Lightning's
// SLURMEnvironment, submitit) would take them for its rank and world size. This rewrites
// them to what srun would have set in the task-per-device layout: SLURM_PROCID = RANK,
// SLURM_LOCALID = LOCAL_RANK, SLURM_NODEID = GROUP_RANK, SLURM_NTASKS = SLURM_NPROCS =
// WORLD_SIZE, SLURM_NTASKS_PER_NODE = LOCAL_WORLD_SIZE, SLURM_NNODES =
// SLURM_JOB_NUM_NODES = GROUP_WORLD_SIZE. No-op outside an srun step.
void OverlaySlurmTask(const AttemptPlan& plan, int local_rank, EnvMap* env);

// "KEY=VALUE" strings for execve.
std::vector<std::string> EnvToStrings(const EnvMap& env);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ATTEMPT_PLAN_H_
