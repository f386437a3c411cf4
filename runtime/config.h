// Resolving the runtime's configuration: FabricOptions set in code, plus the process
// environment a launcher wrote (fabric-run / torchrun: RANK, WORLD_SIZE, ...; srun:
// SLURM_PROCID, SLURM_NTASKS, ...; Lightning's CLI: LT_ACCELERATOR, LT_STRATEGY,
// LT_DEVICES, LT_NUM_NODES, LT_PRECISION).
//
// Pure: no getenv, no I/O. Callers pass the environment as a map.
#ifndef FABRIC_RUNTIME_CONFIG_H_
#define FABRIC_RUNTIME_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/worker_env.h"
#include "runtime/fsdp_options.h"

namespace fabric::runtime {

enum class Accelerator { kCpu, kCuda };
enum class StrategyKind { kSingle, kDdp, kFsdp };
// Lightning's precisions (common/lightning_choices.h has the names). "-true": the
// module's parameters and float inputs are in that dtype; "-mixed": fp32 parameters,
// forward under autocast to bf16/fp16 (16-mixed also scales the loss).
enum class Precision { k32True, k64True, k16True, kBf16True, k16Mixed, kBf16Mixed };

std::string AcceleratorName(Accelerator a);
std::string StrategyName(StrategyKind s);
std::string PrecisionName(Precision p);

// What the program asks for in code. An unset field defers to the environment
// (LT_*), then to the default ("auto").
struct FabricOptions {
  std::optional<std::string> accelerator;  // "cpu", "cuda", "gpu", "auto"
  std::optional<std::string> strategy;     // common/lightning_choices.h: "auto", "ddp", ...
  std::optional<std::string> devices;      // "auto" or a count such as "4"
  std::optional<int> num_nodes;            // >= 1
  std::optional<std::string> precision;    // common/lightning_choices.h: "bf16-mixed", ...
  // The c10d backend: "nccl" or "gloo". Unset: nccl on cuda, gloo on cpu. Gloo with
  // cuda lets several ranks share one GPU (NCCL allows one rank per GPU).
  std::optional<std::string> process_group_backend;
  // Threads for intra-op parallelism; 0: OMP_NUM_THREADS if set, else LibTorch's default.
  int num_threads = 0;
  // FSDP's options (fsdp_options.h; ResolveConfig carries them into RuntimeConfig).
  FsdpOptions fsdp;
};

// Where this process stands and what it runs, fully resolved.
struct RuntimeConfig {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  int node_rank = 0;
  int num_nodes = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: no launcher (a single process needs no store)
  Accelerator accelerator = Accelerator::kCpu;
  // cuda: the device this rank uses (cuda:LOCAL_RANK among the visible GPUs, or cuda:0
  // when only one is visible); -1 on cpu.
  int device_index = -1;
  std::string backend = "gloo";  // "gloo" or "nccl"
  StrategyKind strategy = StrategyKind::kSingle;
  bool find_unused_parameters = false;  // ddp_find_unused_parameters_true
  Precision precision = Precision::k32True;
  // The attempt/round this process belongs to (FABRIC_ROUND, else
  // TORCHELASTIC_RESTART_COUNT, else 0): store keys are prefixed with it.
  int64_t round = 0;
  // In-place recovery (FABRIC_RECOVERY=in-place, fabric-run --recovery in-place): a
  // failed peer is replaced while this rank keeps its state; `replacement`: this
  // process is such a replacement (FABRIC_RECOVERY_REPLACEMENT=1); `recovery_timeout`:
  // how long re-forming the group may take (FABRIC_RECOVERY_TIMEOUT_S).
  bool recovery_in_place = false;
  bool replacement = false;
  absl::Duration recovery_timeout = absl::Seconds(30);
  int num_threads = 0;  // 0: leave LibTorch's default
  // FabricOptions::fsdp; cpu_offload also set by strategy "fsdp_cpu_offload".
  FsdpOptions fsdp;
  // Where the rank came from: "env" (fabric-run/torchrun), "slurm", or "none".
  std::string source = "none";
};

// What this process found of CUDA (runtime/cuda_probe.h finds it; tests make it up).
struct CudaProbe {
  int devices = 0;  // GPUs this process can see (0: no CUDA build, no driver, no GPU)
  // Non-empty: CUDA is there but failed to initialise (LibTorch's message); then
  // `devices` is 0 and neither auto nor cuda may fall back to a silent CPU run.
  std::string init_error;
};

// Resolves options against the environment. Returns InvalidArgument naming the
// option and both values when code and an LT_* variable disagree, naming the variable
// for malformed environment values, and for combinations that cannot run (the
// single strategy with several processes, NCCL on cpu, ...). FailedPrecondition, one
// line saying what to change, when:
// - cuda is asked for but no GPU is visible, or CUDA failed to initialise (under
//   accelerator auto too: never a silent CPU run);
// - NCCL would put two ranks on one GPU (more workers on the node than visible GPUs;
//   NCCL refuses a duplicate GPU): the line names process_group_backend=gloo;
// - in-place recovery (FABRIC_RECOVERY=in-place) with NCCL: NCCL's communicator cannot
//   be re-formed around a replacement yet; the gang restart covers NCCL.
// Placement on cuda: cuda:LOCAL_RANK among the visible GPUs; with one GPU visible,
// cuda:0, when visibility was narrowed to this rank's GPU (CUDA_VISIBLE_DEVICES names
// one device, or srun started the task) or the rank is local rank 0; a rank > 0 that
// sees all of one GPU shares it (Gloo), and Gloo ranks beyond the GPU count share them
// round robin (cuda:LOCAL_RANK % devices).
absl::StatusOr<RuntimeConfig> ResolveConfig(const FabricOptions& options, const EnvMap& env,
                                            const CudaProbe& cuda);
// The same with only a device count (no initialisation error).
absl::StatusOr<RuntimeConfig> ResolveConfig(const FabricOptions& options, const EnvMap& env,
                                            int cuda_devices);

// A spare (FABRIC_SPARE_FIFO set; it has no rank yet): FailedPrecondition, one line,
// when the job it would join runs NCCL (spares are in-place recovery); the accelerator
// and backend errors of ResolveConfig otherwise; OK for a Gloo job. Fabric::Create
// calls it before the spare waits for its assignment.
absl::Status CheckSpareBackend(const FabricOptions& options, const EnvMap& env,
                               const CudaProbe& cuda);

// "-mixed" precisions (autocast in forward); the others are "-true".
bool IsMixed(Precision p);

// The first host of a SLURM hostlist ("node[07-09,12]" -> "node07", "a,b" -> "a").
// Returns InvalidArgument for an empty or malformed list.
absl::StatusOr<std::string> FirstHostOfHostlist(const std::string& hostlist);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_CONFIG_H_
