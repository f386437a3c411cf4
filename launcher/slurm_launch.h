// SLURM through fabric-run: before the agent starts, main() hands its options to
// ApplySlurm(), which derives the launch plan from the SLURM_* variables
// (slurm/plan.h) and either
//   - outside an srun step (no SLURM, a batch script, an salloc shell): changes nothing
//     (the plan's note is logged at info level);
//   - one srun task per device: checks the main port on the task that binds it, then
//     execs the program directly (no agent process in between) with the inherited
//     environment plus the plan's worker environment;
//   - one srun task per node: fills the agent's options from the plan (devices, node
//     rank = SLURM_NODEID, nodes = SLURM_NNODES, main address = the step's first host,
//     main port) and lets the agent run;
//   - a mismatch between the request and the allocation: prints the plan's message
//     and makes fabric-run exit 2 before anything is spawned.
// It also wires --requeue-on-signal to `scontrol requeue $SLURM_JOB_ID`.
//
// Only what the user gave (LaunchOptions' *_set bits) goes into the PlanRequest:
// everything else comes from SLURM. See doc/slurm.md.
//
// Thread safety: call from main()'s thread before any other thread exists.
#ifndef FABRIC_LAUNCHER_SLURM_LAUNCH_H_
#define FABRIC_LAUNCHER_SLURM_LAUNCH_H_

#include <signal.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/worker_env.h"
#include "launcher/agent.h"
#include "launcher/options.h"
#include "slurm/plan.h"

namespace fabric::launcher {

// Pure: the PlanRequest of what the user actually gave. --devices auto and an open
// --num-nodes MIN:MAX range are left unset (SLURM decides).
slurm::PlanRequest BuildPlanRequest(const LaunchOptions& options);

// What fabric-run does in this process under SLURM.
struct SlurmDecision {
  enum class Action { kRunAgent, kExec };
  Action action = Action::kRunAgent;
  slurm::SlurmPlan plan;
  // kRunAgent: the agent's options (for task per node with the plan's values).
  LaunchOptions launch;
  // kExec: what to execve (the program, or python + script) and its whole environment.
  std::vector<std::string> exec_argv;
  EnvMap exec_env;
  // --requeue-on-signal: the job this agent requeues (only node 0's agent does; the
  // others just exit 0). nullopt: nothing to requeue here.
  std::optional<int64_t> requeue_job_id;
};

// Pure: decides from the parsed options and the environment. Errors (print them and
// exit 2, nothing spawned): the plan's FailedPrecondition / InvalidArgument (request
// vs allocation), and FailedPrecondition for --requeue-on-signal without a SLURM job or
// with one task per device (no agent to act on it).
absl::StatusOr<SlurmDecision> DecideSlurmLaunch(const LaunchOptions& options, const EnvMap& env);

// Runs `scontrol requeue <job_id>` (slurm::BuildRequeueArgv; `scontrol` from PATH
// unless `scontrol` names another program) with signal mask `child_mask` and the
// process environment, and waits for it. Prints one line on stderr saying so. Returns
// Internal when it cannot be started or exits non-zero (naming the status).
absl::Status RequeueSlurmJob(int64_t job_id, const sigset_t& child_mask,
                             const std::string& scontrol = "scontrol");

// The one call main() makes after parsing, before Agent::Create. Returns nullopt when
// the agent should run with (possibly updated) `options`; otherwise fabric-run's exit
// status: 2 for a plan error, 1 when the main port is not free on the task that binds
// it, 126/127 when exec failed. In task-per-device mode a successful exec never returns.
std::optional<int> ApplySlurm(AgentOptions* options);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_SLURM_LAUNCH_H_
