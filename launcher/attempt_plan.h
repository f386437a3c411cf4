// An attempt's plan is a NodePlacement (common/placement.h): where this node's workers
// sit in the job (rank base, world size, node) and how they find each other
// (MASTER_ADDR/PORT). The gang runner takes a plan and does not care how it was made:
// PlanLocalAttempt() makes it for a single node; the rendezvous makes it from a
// completed round (rendezvous::PlacementOf, used by RdzvCoordinator::RequestPlan).
//
// PlacementFromOptions() and WorkerEnvironment() are pure.
#ifndef FABRIC_LAUNCHER_ATTEMPT_PLAN_H_
#define FABRIC_LAUNCHER_ATTEMPT_PLAN_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/placement.h"
#include "common/worker_env.h"
#include "launcher/options.h"

namespace fabric::launcher {

// This node's placement as the options alone describe it, before any rendezvous:
// each of max_nodes nodes runs `devices` workers (UniformPlacement), this one at
// --node-rank (0 when not given); round = restart_count (a single node's rounds are its
// attempts); MASTER_ADDR 127.0.0.1 and MASTER_PORT 0 (not chosen). For one node this is
// the plan itself; for several, the rendezvous has the final word (a dry run shows it).
NodePlacement PlacementFromOptions(const LaunchOptions& options, const std::string& run_id,
                                   int restart_count);

// The single-node plan for attempt `restart_count`: PlacementFromOptions (ranks
// 0..devices-1 when max_nodes is 1, as a single node's agent requires) and a
// MASTER_PORT that was verified free just now and is not in `used_ports` (the
// earlier attempts' ports, whose stores may linger). Returns Unavailable when no
// such port can be found.
absl::StatusOr<NodePlacement> PlanLocalAttempt(const LaunchOptions& options,
                                               const std::string& run_id, int restart_count,
                                               const std::set<int>& used_ports = {});

// `inherited` overlaid with the worker variables of `local_rank` (see doc/launcher.md):
// its place in the job from ForLocalRank(plan, local_rank), then the options' choices.
// OMP_NUM_THREADS=1 is added when more than one worker shares the node and `inherited`
// does not set it; CUDA_VISIBLE_DEVICES is the device id list when one was given.
// `error_file` may be empty (then not set).
EnvMap WorkerEnvironment(const LaunchOptions& options, const NodePlacement& plan, int local_rank,
                         const std::string& error_file, const EnvMap& inherited);

// Under srun's task-per-node layout (`inherited` has SLURM_STEP_ID and SLURM_PROCID: this
// agent is an srun task), a worker would otherwise inherit its agent's task variables
// (SLURM_PROCID of the node, SLURM_NTASKS = nodes), and SLURM-aware libraries (Lightning's
// SLURMEnvironment, submitit) would take them for its rank and world size. This rewrites
// them to what srun would have set in the task-per-device layout: SLURM_PROCID = RANK,
// SLURM_LOCALID = LOCAL_RANK, SLURM_NODEID = GROUP_RANK, SLURM_NTASKS = SLURM_NPROCS =
// WORLD_SIZE, SLURM_NTASKS_PER_NODE = LOCAL_WORLD_SIZE, SLURM_NNODES =
// SLURM_JOB_NUM_NODES = GROUP_WORLD_SIZE. No-op outside an srun step.
void OverlaySlurmTask(const NodePlacement& plan, int local_rank, EnvMap* env);

// "KEY=VALUE" strings for execve.
std::vector<std::string> EnvToStrings(const EnvMap& env);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ATTEMPT_PLAN_H_
