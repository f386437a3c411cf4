// GpuProcessQuery: which processes hold memory on which GPU, the seam before a respawn
// (the agent waits until the workers of a failed attempt have let go of their GPUs:
// Agent::WaitGpusFree). The real one asks NVML, loaded at run time
// (LoadNvmlGpuProcessQuery); FakeGpuProcessQuery (testonly) scripts it.
//
// Thread safety: an instance is used from one thread (the agent's loop).
#ifndef FABRIC_LAUNCHER_GPU_PROCESSES_H_
#define FABRIC_LAUNCHER_GPU_PROCESSES_H_

#include <sys/types.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace fabric::launcher {

class GpuProcessQuery {
 public:
  virtual ~GpuProcessQuery() = default;
  // For each GPU (by NVML index: PCI bus order, every GPU of the machine whatever
  // CUDA_VISIBLE_DEVICES says), the pids of the compute processes holding memory on it.
  // Unavailable when the driver could not be asked (the caller stops waiting).
  virtual absl::StatusOr<std::vector<std::vector<pid_t>>> PidsByDevice() = 0;
};

// NVML from libnvidia-ml.so.1 (dlopen; nvmlInit_v2, nvmlDeviceGetCount_v2,
// nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetComputeRunningProcesses_v3; no header: the
// few declarations are NVIDIA's documented ABI). Null when the library or one of those
// symbols is absent or nvmlInit_v2 fails (no driver, no GPU): there is nothing to wait for.
// Pids are as the driver sees them: the host's, which match ours unless the agent runs in
// a pid namespace of its own (a container without --pid=host), where nothing matches and
// the wait ends at once.
std::unique_ptr<GpuProcessQuery> LoadNvmlGpuProcessQuery();

struct GpuHolder {
  pid_t pid = -1;
  int gpu = -1;
};

// Which of `pids` still hold memory, and where (by GPU, then pid order of `by_device`).
// Pure.
std::vector<GpuHolder> StillHolding(const std::vector<std::vector<pid_t>>& by_device,
                                    const std::vector<pid_t>& pids);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_GPU_PROCESSES_H_
