// Construction of c10d's ProcessGroupNCCL, the only file of the runtime that includes
// ProcessGroupNCCL.hpp (and with it CUDA's and NCCL's headers, from the wheel's
// nvidia-* packages: the versions LibTorch was built with).
#ifndef FABRIC_RUNTIME_NCCL_BACKEND_H_
#define FABRIC_RUNTIME_NCCL_BACKEND_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "torch/csrc/distributed/c10d/Backend.hpp"
#include "torch/csrc/distributed/c10d/Store.hpp"

namespace fabric::runtime {

struct NcclBackendOptions {
  int rank = 0;
  int world_size = 1;
  int device_index = 0;  // cuda:<device_index>; one rank per GPU (NCCL's rule)
  // The process group's timeout: NCCL's watchdog thread aborts the communicator of a
  // collective that has not finished within it, and (TORCH_NCCL_ASYNC_ERROR_HANDLING)
  // ends the process, so a dead or partitioned peer ends the survivors instead of
  // leaving them blocked at the next .item() or synchronize. Also what a
  // Work::wait(timeout) is bounded by where a caller asks for one. Communicator passes
  // Fabric::Launch's timeout (default 5 minutes).
  absl::Duration timeout = absl::Minutes(5);
};

// Creates the NCCL backend over `store` (rank 0 publishes the NCCL unique id there;
// callers give each round its own PrefixStore, so a restart never reads an old id) and
// connects its communicator for the device now, so that Launch() fails rather than the
// first collective. Returns Unimplemented when this LibTorch has no CUDA, and the
// LibTorch error otherwise (see torch_status.h).
//
// Error handling: the runtime sets no NCCL variable. TORCH_NCCL_BLOCKING_WAIT stays as
// the user left it (unset: off), so torch's watchdog runs and Work::wait() returns at
// enqueue (the compute stream waits on NCCL's, no CPU polling); the watchdog ends a
// stuck collective after `timeout`. TORCH_NCCL_ASYNC_ERROR_HANDLING is honoured:
// fabric-run and torchrun set 1 (tear down the process), torch's default is 3.
absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const NcclBackendOptions& options);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_NCCL_BACKEND_H_
