#include "common/worker_env.h"

#include <cstdint>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace fabric {
namespace {

absl::StatusOr<int64_t> ParseInt(const EnvMap& env, const char* name,
                                 std::optional<int64_t> fallback) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) {
    if (fallback.has_value()) return *fallback;
    return absl::InvalidArgumentError(
        absl::StrCat("worker environment: ", name,
                     " is not set (start the program with fabric-run, torchrun or srun)"));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat("worker environment: ", name, "='", it->second,
                                                   "' is not a non-negative integer"));
  }
  return value;
}

std::string GetOr(const EnvMap& env, const char* name, const std::string& fallback) {
  auto it = env.find(name);
  return it == env.end() ? fallback : it->second;
}

}  // namespace

EnvMap WorkerEnv::ToEnvMap() const {
  EnvMap env;
  env[kEnvRank] = absl::StrCat(rank);
  env[kEnvLocalRank] = absl::StrCat(local_rank);
  env[kEnvWorldSize] = absl::StrCat(world_size);
  env[kEnvLocalWorldSize] = absl::StrCat(local_world_size);
  env[kEnvGroupRank] = absl::StrCat(group_rank);
  env[kEnvGroupWorldSize] = absl::StrCat(group_world_size);
  env[kEnvRoleName] = role_name;
  env[kEnvRoleRank] = absl::StrCat(rank);
  env[kEnvRoleWorldSize] = absl::StrCat(world_size);
  env[kEnvMasterAddr] = master_addr;
  env[kEnvMasterPort] = absl::StrCat(master_port);
  env[kEnvRunId] = run_id;
  env[kEnvRestartCount] = absl::StrCat(restart_count);
  env[kEnvMaxRestarts] = absl::StrCat(max_restarts);
  if (!error_file.empty()) env[kEnvErrorFile] = error_file;
  env[kEnvFabricRound] = absl::StrCat(round);
  if (lt_cli_used) env[kEnvLtCliUsed] = "1";
  if (!accelerator.empty()) env[kEnvLtAccelerator] = accelerator;
  if (!strategy.empty()) env[kEnvLtStrategy] = strategy;
  if (!devices.empty()) env[kEnvLtDevices] = devices;
  env[kEnvLtNumNodes] = absl::StrCat(group_world_size);
  if (!precision.empty()) env[kEnvLtPrecision] = precision;
  if (cuda_visible_devices.has_value()) env[kEnvCudaVisibleDevices] = *cuda_visible_devices;
  if (omp_num_threads.has_value()) env[kEnvOmpNumThreads] = *omp_num_threads;
  return env;
}

absl::StatusOr<WorkerEnv> WorkerEnv::FromEnvMap(const EnvMap& env) {
  WorkerEnv w;
  FABRIC_ASSIGN_OR_RETURN(int64_t rank, ParseInt(env, kEnvRank, std::nullopt));
  FABRIC_ASSIGN_OR_RETURN(int64_t world, ParseInt(env, kEnvWorldSize, std::nullopt));
  if (world < 1) {
    return absl::InvalidArgumentError("worker environment: WORLD_SIZE must be at least 1");
  }
  if (rank >= world) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker environment: RANK=", rank, " is not below WORLD_SIZE=", world));
  }
  FABRIC_ASSIGN_OR_RETURN(int64_t local_rank, ParseInt(env, kEnvLocalRank, 0));
  FABRIC_ASSIGN_OR_RETURN(int64_t local_world, ParseInt(env, kEnvLocalWorldSize, world));
  if (local_world < 1 || local_rank >= local_world) {
    return absl::InvalidArgumentError(absl::StrCat("worker environment: LOCAL_RANK=", local_rank,
                                                   " is not below LOCAL_WORLD_SIZE=", local_world));
  }
  FABRIC_ASSIGN_OR_RETURN(int64_t group_rank, ParseInt(env, kEnvGroupRank, 0));
  FABRIC_ASSIGN_OR_RETURN(int64_t group_world,
                          ParseInt(env, kEnvGroupWorldSize, world / local_world));
  FABRIC_ASSIGN_OR_RETURN(int64_t port, ParseInt(env, kEnvMasterPort, std::nullopt));
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker environment: MASTER_PORT=", port, " is not a port (1-65535)"));
  }
  auto addr = env.find(kEnvMasterAddr);
  if (addr == env.end() || addr->second.empty()) {
    return absl::InvalidArgumentError(
        "worker environment: MASTER_ADDR is not set (start the program with fabric-run, "
        "torchrun or srun)");
  }
  FABRIC_ASSIGN_OR_RETURN(int64_t restarts, ParseInt(env, kEnvRestartCount, 0));
  FABRIC_ASSIGN_OR_RETURN(int64_t max_restarts, ParseInt(env, kEnvMaxRestarts, 0));
  FABRIC_ASSIGN_OR_RETURN(int64_t round, ParseInt(env, kEnvFabricRound, 0));
  w.rank = static_cast<int>(rank);
  w.world_size = static_cast<int>(world);
  w.local_rank = static_cast<int>(local_rank);
  w.local_world_size = static_cast<int>(local_world);
  w.group_rank = static_cast<int>(group_rank);
  w.group_world_size = static_cast<int>(group_world);
  w.master_addr = addr->second;
  w.master_port = static_cast<int>(port);
  w.restart_count = static_cast<int>(restarts);
  w.max_restarts = static_cast<int>(max_restarts);
  w.round = round;
  w.role_name = GetOr(env, kEnvRoleName, "default");
  w.run_id = GetOr(env, kEnvRunId, "none");
  w.error_file = GetOr(env, kEnvErrorFile, "");
  w.lt_cli_used = GetOr(env, kEnvLtCliUsed, "") == "1";
  w.accelerator = GetOr(env, kEnvLtAccelerator, "");
  w.strategy = GetOr(env, kEnvLtStrategy, "");
  w.devices = GetOr(env, kEnvLtDevices, "");
  w.precision = GetOr(env, kEnvLtPrecision, "");
  if (auto it = env.find(kEnvCudaVisibleDevices); it != env.end()) {
    w.cuda_visible_devices = it->second;
  }
  if (auto it = env.find(kEnvOmpNumThreads); it != env.end()) w.omp_num_threads = it->second;
  return w;
}

}  // namespace fabric
