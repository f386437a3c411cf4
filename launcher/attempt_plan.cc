#include "launcher/attempt_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/net.h"
#include "common/placement.h"
#include "common/status_macros.h"

namespace fabric::launcher {

NodePlacement PlacementFromOptions(const LaunchOptions& options, const std::string& run_id,
                                   int restart_count) {
  NodePlacement plan =
      UniformPlacement(options.node_rank.value_or(0), options.max_nodes, options.devices);
  plan.run_id = run_id;
  plan.round = restart_count;
  plan.restart_count = restart_count;
  plan.max_restarts = options.max_restarts;
  return plan;
}

absl::StatusOr<NodePlacement> PlanLocalAttempt(const LaunchOptions& options,
                                               const std::string& run_id, int restart_count,
                                               const std::set<int>& used_ports) {
  NodePlacement plan = PlacementFromOptions(options, run_id, restart_count);
  for (int tries = 0; tries < 16; ++tries) {
    FABRIC_ASSIGN_OR_RETURN(plan.master_port, PickFreePort());
    if (used_ports.count(plan.master_port) == 0) return plan;
  }
  return absl::UnavailableError(
      absl::StrCat("no free port for MASTER_PORT that earlier attempts did not use (",
                   used_ports.size(), " used)"));
}

EnvMap WorkerEnvironment(const LaunchOptions& options, const NodePlacement& plan, int local_rank,
                         const std::string& error_file, const EnvMap& inherited) {
  WorkerEnv w = ForLocalRank(plan, local_rank);
  w.error_file = error_file;
  if (options.accelerator_set) w.accelerator = options.accelerator;
  w.strategy = options.strategy;
  w.devices = options.devices_spec;
  w.precision = options.precision;
  w.role_name = options.role;
  if (options.device_ids.has_value()) {
    // --devices 0,2 names GPUs among those this agent may use: positions in an inherited
    // CUDA_VISIBLE_DEVICES (which may hold ids or UUIDs), else physical ids. Each worker
    // sees exactly these, so Lightning is told their count (it indexes the visible ones).
    std::vector<std::string> visible;
    if (auto it = inherited.find(kEnvCudaVisibleDevices); it != inherited.end()) {
      visible = absl::StrSplit(it->second, ',', absl::SkipWhitespace());
    }
    std::vector<std::string> ids;
    for (int id : *options.device_ids) {
      ids.push_back(id < static_cast<int>(visible.size()) ? visible[id] : absl::StrCat(id));
    }
    w.cuda_visible_devices = absl::StrJoin(ids, ",");
    w.devices = absl::StrCat(ids.size());
  }
  if (plan.local_world_size > 1 && inherited.count(kEnvOmpNumThreads) == 0) {
    w.omp_num_threads = "1";
  }
  EnvMap env = inherited;
  for (auto& [k, v] : w.ToEnvMap()) env[k] = v;
  // As torchrun: the signal list always, NCCL's async error handling unless inherited.
  env[kEnvSignalsToHandle] = options.signals_to_handle;
  env.emplace(kEnvNcclAsyncErrorHandling, "1");
  if (options.recovery_in_place) {
    env[kEnvFabricRecovery] = "in-place";
    env[kEnvFabricRecoveryTimeout] = absl::StrCat(absl::ToDoubleSeconds(options.recovery_timeout));
  }
  OverlaySlurmTask(plan, local_rank, &env);
  if (options.virtual_local_rank) {
    // torchrun's --virtual-local-rank: each worker sees only its own GPU, as device 0.
    env[kEnvLocalRank] = "0";
    std::vector<std::string> visible;
    if (auto it = env.find(kEnvCudaVisibleDevices); it != env.end()) {
      visible = absl::StrSplit(it->second, ',', absl::SkipWhitespace());
    }
    env[kEnvCudaVisibleDevices] = local_rank < static_cast<int>(visible.size())
                                      ? visible[local_rank]
                                      : absl::StrCat(local_rank);
  }
  return env;
}

void OverlaySlurmTask(const NodePlacement& plan, int local_rank, EnvMap* env) {
  if (env->count("SLURM_STEP_ID") == 0 || env->count("SLURM_PROCID") == 0) return;
  const WorkerEnv w = ForLocalRank(plan, local_rank);
  (*env)["SLURM_PROCID"] = absl::StrCat(w.rank);
  (*env)["SLURM_LOCALID"] = absl::StrCat(w.local_rank);
  (*env)["SLURM_NODEID"] = absl::StrCat(w.group_rank);
  (*env)["SLURM_NTASKS"] = absl::StrCat(w.world_size);
  (*env)["SLURM_NPROCS"] = absl::StrCat(w.world_size);
  (*env)["SLURM_NTASKS_PER_NODE"] = absl::StrCat(w.local_world_size);
  (*env)["SLURM_NNODES"] = absl::StrCat(w.group_world_size);
  (*env)["SLURM_JOB_NUM_NODES"] = absl::StrCat(w.group_world_size);
}

std::vector<std::string> EnvToStrings(const EnvMap& env) {
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(absl::StrCat(k, "=", v));
  return out;
}

}  // namespace fabric::launcher
