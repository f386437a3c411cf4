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
  // A collective (or the communicator's creation) that does not finish within this
  // fails with DeadlineExceeded on the waiting rank (TORCH_NCCL_BLOCKING_WAIT), instead
  // of hanging until NCCL's own 10-30 minute default.
  absl::Duration timeout = absl::Minutes(5);
};

// Creates the NCCL backend over `store` (rank 0 publishes the NCCL unique id there;
// callers give each round its own PrefixStore, so a restart never reads an old id) and
// connects its communicator for the device now, so that Launch() fails rather than the
// first collective. Returns Unimplemented when this LibTorch has no CUDA, and the
// LibTorch error otherwise (see torch_status.h).
absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const NcclBackendOptions& options);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_NCCL_BACKEND_H_
