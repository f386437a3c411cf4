// The random generators a training step draws from (dropout, initialisation, sampling):
// the CPU generator and, on a GPU, the default CUDA generator of this rank's device.
// What checkpoints save and load (checkpoint.h: "rng/cpu", "rng/cuda") and what in-place
// recovery sends to a replacement (recovery.h), so that CUDA dropout does not diverge
// after a resume or a replacement.
//
// Thread safety: each call takes the generator's own mutex.
#ifndef FABRIC_RUNTIME_RNG_STATE_H_
#define FABRIC_RUNTIME_RNG_STATE_H_

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "c10/core/Device.h"

namespace fabric::runtime {

struct RngStates {
  at::Tensor cpu;   // the CPU generator's state (a byte tensor); undefined: none
  at::Tensor cuda;  // the CUDA generator of the device's; undefined on a CPU device
};

// The states of the CPU generator and, when `device` is CUDA, of its default generator.
// Returns LibTorch's error as Status (torch_status.h); `rank` names the caller.
absl::StatusOr<RngStates> ReadRngStates(int rank, const c10::Device& device);

// Sets the generators whose state is defined in `states`. A CUDA state on a CPU
// `device` is ignored (a GPU run's checkpoint loads on the CPU), as is a missing one (a
// CPU run's checkpoint on a GPU: the CUDA generator keeps its seed). Returns LibTorch's
// error (e.g. a state of the wrong size) as Status.
absl::Status RestoreRngStates(int rank, const c10::Device& device, const RngStates& states);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_RNG_STATE_H_
