// The worker environment: the contract between the launcher (which writes it) and
// the worker runtime (which reads it). Names follow torchrun so that unmodified
// PyTorch code (`init_process_group(init_method="env://")`) works, plus Lightning's
// LT_* variables that carry the CLI's choices to the runtime.
//
// Pure value type; no getenv/setenv here: callers pass and receive maps.
#ifndef FABRIC_COMMON_WORKER_ENV_H_
#define FABRIC_COMMON_WORKER_ENV_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace fabric {

// Variable names (torchrun-compatible).
inline constexpr char kEnvRank[] = "RANK";
inline constexpr char kEnvLocalRank[] = "LOCAL_RANK";
inline constexpr char kEnvWorldSize[] = "WORLD_SIZE";
inline constexpr char kEnvLocalWorldSize[] = "LOCAL_WORLD_SIZE";
inline constexpr char kEnvGroupRank[] = "GROUP_RANK";
inline constexpr char kEnvGroupWorldSize[] = "GROUP_WORLD_SIZE";
inline constexpr char kEnvRoleName[] = "ROLE_NAME";
inline constexpr char kEnvRoleRank[] = "ROLE_RANK";
inline constexpr char kEnvRoleWorldSize[] = "ROLE_WORLD_SIZE";
inline constexpr char kEnvMasterAddr[] = "MASTER_ADDR";
inline constexpr char kEnvMasterPort[] = "MASTER_PORT";
inline constexpr char kEnvRunId[] = "TORCHELASTIC_RUN_ID";
inline constexpr char kEnvRestartCount[] = "TORCHELASTIC_RESTART_COUNT";
inline constexpr char kEnvMaxRestarts[] = "TORCHELASTIC_MAX_RESTARTS";
inline constexpr char kEnvErrorFile[] = "TORCHELASTIC_ERROR_FILE";
inline constexpr char kEnvOmpNumThreads[] = "OMP_NUM_THREADS";
// torchrun sets both; a worker's torch reads them (the elastic error handler's signal
// list; NCCL's watchdog tearing a failed communicator down).
inline constexpr char kEnvSignalsToHandle[] = "TORCHELASTIC_SIGNALS_TO_HANDLE";
inline constexpr char kEnvNcclAsyncErrorHandling[] = "TORCH_NCCL_ASYNC_ERROR_HANDLING";
inline constexpr char kEnvCudaVisibleDevices[] = "CUDA_VISIBLE_DEVICES";
inline constexpr char kEnvLtCliUsed[] = "LT_CLI_USED";
inline constexpr char kEnvLtAccelerator[] = "LT_ACCELERATOR";
inline constexpr char kEnvLtStrategy[] = "LT_STRATEGY";
inline constexpr char kEnvLtDevices[] = "LT_DEVICES";
inline constexpr char kEnvLtNumNodes[] = "LT_NUM_NODES";
inline constexpr char kEnvLtPrecision[] = "LT_PRECISION";
// Ours: the rendezvous round the worker belongs to.
inline constexpr char kEnvFabricRound[] = "FABRIC_ROUND";
// Ours, under `fabric-run --recovery in-place`: "in-place" for every worker (the C++
// runtime then re-forms its group around a replacement instead of failing); "1" in
// FABRIC_RECOVERY_REPLACEMENT for a worker started in place of a failed one (it joins
// the running job); FABRIC_RECOVERY_TIMEOUT_S: how long the live ranks wait for it.
inline constexpr char kEnvFabricRecovery[] = "FABRIC_RECOVERY";
inline constexpr char kEnvFabricRecoveryReplacement[] = "FABRIC_RECOVERY_REPLACEMENT";
inline constexpr char kEnvFabricRecoveryTimeout[] = "FABRIC_RECOVERY_TIMEOUT_S";
// Ours, for a spare (--spares): the FIFO from which it reads, before anything else, the
// complete environment of the worker it takes over (runtime/spare.h).
inline constexpr char kEnvFabricSpareFifo[] = "FABRIC_SPARE_FIFO";
// Ours, under --recovery in-place: a FIFO on which fabric-run writes a shrink command
// (common/worker_control.h) when the job goes on with fewer ranks after a node was lost.
inline constexpr char kEnvFabricControlFifo[] = "FABRIC_CONTROL_FIFO";

using EnvMap = std::map<std::string, std::string>;

// Everything one worker is told about its place in the job.
struct WorkerEnv {
  int rank = 0;              // global rank
  int local_rank = 0;        // rank on this node
  int world_size = 1;        // workers in the job
  int local_world_size = 1;  // workers on this node
  int group_rank = 0;        // node rank
  int group_world_size = 1;  // nodes
  std::string role_name = "default";
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  std::string run_id = "none";
  int restart_count = 0;
  int max_restarts = 0;
  std::string error_file;  // empty: not set
  int64_t round = 0;

  // Lightning CLI passthrough (LT_*). Empty strings are not written.
  std::string accelerator;
  std::string strategy;
  std::string devices;
  std::string precision;
  bool lt_cli_used = true;

  // Written only when set.
  std::optional<std::string> cuda_visible_devices;
  std::optional<std::string> omp_num_threads;

  // The variables for this worker. Does not include the inherited environment.
  EnvMap ToEnvMap() const;

  // Reads a worker environment. Requires RANK, WORLD_SIZE, MASTER_ADDR and
  // MASTER_PORT; the rest default as torchrun's readers do (LOCAL_RANK = 0,
  // LOCAL_WORLD_SIZE = WORLD_SIZE, ...). Returns InvalidArgument naming the variable
  // for a missing required or malformed value, or an inconsistent combination
  // (RANK >= WORLD_SIZE, ...).
  static absl::StatusOr<WorkerEnv> FromEnvMap(const EnvMap& env);
};

}  // namespace fabric

#endif  // FABRIC_COMMON_WORKER_ENV_H_
