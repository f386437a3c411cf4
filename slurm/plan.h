// The SLURM launch plan: given a parsed SlurmJob and what the user asked for, decide
// how fabric-run runs in this srun task, or say precisely which #SBATCH line to change.
//
// Two layouts (doc/slurm.md):
//   - task per device (tasks on every node == devices): srun started one task per
//     worker. fabric-run spawns nothing and execs the program with `worker_env`: rank
//     SLURM_PROCID, local rank SLURM_LOCALID, node rank SLURM_NODEID, world
//     SLURM_NTASKS, MASTER_ADDR the first host of the step (or --main-address),
//     MASTER_PORT `main_port`.
//   - task per node (one task on every node): fabric-run is the node's agent and
//     spawns `local_world_size` workers; node rank SLURM_NODEID, nodes SLURM_NNODES;
//     the rendezvous is at main_address:main_port (served by node 0's agent).
// Outside an srun step (batch script, salloc shell, no SLURM) the layout is kNotSlurm:
// the launcher uses its own flags; `note` says why.
//
// Every task of a step computes the same plan (apart from its own ranks) from the
// same variables, so either every task starts or every task fails with one error.
//
// Thread safety: pure functions on values.
#ifndef FABRIC_SLURM_PLAN_H_
#define FABRIC_SLURM_PLAN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/worker_env.h"
#include "slurm/slurm_job.h"

namespace fabric::slurm {

// Derived ports lie in [kDerivedPortBase, kDerivedPortBase + kDerivedPortRange), below
// Linux's default ephemeral range (32768-60999).
inline constexpr int kDerivedPortBase = 15000;
inline constexpr int kDerivedPortRange = 17749;  // prime: spreads job ids evenly

// The port every task of step (job_id, step_id) derives without talking to the others:
// kDerivedPortBase + (job_id * 1009 + step_id) mod kDerivedPortRange. Consecutive jobs
// and concurrent steps of one job get different ports. The caller on the host that
// binds it verifies it is free (fabric::CheckPortFree).
int DeriveMainPort(int64_t job_id, int64_t step_id);

// What the user asked for; unset optionals mean "not given on the command line".
struct PlanRequest {
  std::optional<int> devices;       // --devices N (an id list counts its ids)
  std::optional<int> num_nodes;     // --num-nodes N (a MIN:MAX range: pass nullopt)
  std::string accelerator = "cpu";  // resolved: "cpu" or "cuda"
  // Lightning's `fabric run` rule: LT_ACCELERATOR, LT_STRATEGY and LT_PRECISION reach the
  // workers only when the user gave the flag, so a program's own Fabric(strategy=...)
  // stands when the command line is silent. Empty strategy/precision: not given.
  bool accelerator_given = false;
  std::string strategy;
  std::string precision;
  std::optional<int> node_rank;             // --node-rank (must equal SLURM_NODEID)
  std::optional<std::string> main_address;  // --main-address (wins over the first host)
  std::optional<int> main_port;             // --main-port
  std::string run_id;                       // --run-id; empty: "slurm-<job>.<step>"
  // GPUs the launcher found itself (e.g. CUDA device count), used for the default
  // device count only when SLURM set none of CUDA_VISIBLE_DEVICES /
  // SLURM_GPUS_ON_NODE / SLURM_STEP_GPUS.
  std::optional<int> detected_gpus;
};

enum class Layout { kNotSlurm, kTaskPerDevice, kTaskPerNode };

// "not-slurm", "task-per-device", "task-per-node".
absl::string_view LayoutName(Layout layout);

enum class PortSource { kFlag, kMasterPortEnv, kDerived };

// "--main-port", "MASTER_PORT", "derived from job and step id".
absl::string_view PortSourceName(PortSource source);

struct SlurmPlan {
  Layout layout = Layout::kNotSlurm;
  std::string note;  // kNotSlurm: one line saying what was detected and why not used

  // The rest is set for kTaskPerDevice and kTaskPerNode.
  int node_rank = 0;               // SLURM_NODEID
  int num_nodes = 1;               // nodes in the step
  int local_world_size = 1;        // workers on this node (tasks here, or devices spawned)
  int world_size = 1;              // workers in the job (kTaskPerNode: assumes every node spawns
                                   // local_world_size; the rendezvous has the final word)
  std::optional<int> global_rank;  // kTaskPerDevice: SLURM_PROCID
  std::optional<int> local_rank;   // kTaskPerDevice: SLURM_LOCALID
  std::vector<std::string> nodes;  // the step's hosts, node rank order
  // kTaskPerDevice: the workers' MASTER_ADDR:MASTER_PORT (rank 0's store).
  // kTaskPerNode: the rendezvous endpoint served by node 0's agent.
  std::string main_address;
  int main_port = 0;
  PortSource port_source = PortSource::kDerived;
  // True on the one task that will listen on main_port (procid 0, or node 0's agent):
  // it checks the port with VerifyMainPort before starting.
  bool binds_main_port = false;
  std::string run_id;
  // kTaskPerDevice: the complete worker environment to exec the program with (on top of
  // the inherited environment, which keeps CUDA_VISIBLE_DEVICES as SLURM set it).
  std::optional<WorkerEnv> worker_env;
};

// Decides the layout. Errors (nothing may be spawned; print the message, exit 2):
//   FailedPrecondition when the request disagrees with the allocation: --devices vs
//   tasks per node, --num-nodes vs the step's nodes, --devices vs GPUs SLURM gave,
//   task 0 not on the first node, --node-rank != SLURM_NODEID, --num-nodes > 1 outside
//   srun. The message names both
//   numbers and the #SBATCH line (or flag) to change.
//   InvalidArgument for a request that is invalid in itself (devices < 1, ...).
absl::StatusOr<SlurmPlan> PlanLaunch(const SlurmJob& job, const PlanRequest& request);

// Checks the main port on the one task that will bind it. `check_port_free` is
// fabric::CheckPortFree in production (a fake in tests). Returns OK when
// !plan.binds_main_port (nothing to check) or the port is free; otherwise
// FailedPrecondition naming the port, where it came from and the fix, e.g.
// "main port 23145 (derived from job and step id) is not free on n1 (...): export
// MASTER_PORT=<free port> in the sbatch script, or pass --main-port".
absl::Status VerifyMainPort(const SlurmPlan& plan,
                            const std::function<absl::Status(int)>& check_port_free);

// Convenience: ParseSlurmJob(env) then PlanLaunch.
absl::StatusOr<SlurmPlan> PlanLaunchFromEnv(const EnvMap& env, const PlanRequest& request);

// One line of key=value pairs describing the plan, for logs and `--check`:
// "layout=task-per-device node_rank=1 num_nodes=2 local_world_size=2 world_size=4
//  rank=3 local_rank=1 main_address=n1 main_port=23145 port_source=\"derived from job and
//  step id\" binds_main_port=0 run_id=slurm-4242.0 nodes=n[1-2]"
std::string DescribePlan(const SlurmPlan& plan);

}  // namespace fabric::slurm

#endif  // FABRIC_SLURM_PLAN_H_
