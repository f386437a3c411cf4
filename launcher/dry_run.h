// `fabric-run --dry-run`: the plan as text, for people and for tests.
#ifndef FABRIC_LAUNCHER_DRY_RUN_H_
#define FABRIC_LAUNCHER_DRY_RUN_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/worker_env.h"
#include "launcher/options.h"

namespace fabric::launcher {

// Every setting with its value and source (flag, FABRIC_*, PET_*, or default), then, for
// each local worker of this node, its command line and the variables fabric-run sets
// (ranks are final on a single node; with several nodes the rendezvous assigns the node
// rank, so this node is shown as node rank --node-rank, or 0, with MASTER_PORT chosen
// at run time). Pure.
std::string DescribePlan(const LaunchOptions& options, const EnvMap& inherited);

// The whole dry run: under SLURM (an srun step) the plan's values fill in what was not
// given (their source shown as SLURM) and the SLURM plan is described; in srun's
// task-per-device layout, the program this task would exec and its ranks. Returns the
// plan's error (request vs allocation) as fabric-run would report it. Pure.
absl::StatusOr<std::string> DescribeLaunch(const LaunchOptions& options, const EnvMap& inherited);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_DRY_RUN_H_
