// Small collective helpers the strategies share.
//
// Not thread-safe; collective: every rank calls in the same order.
#ifndef FABRIC_RUNTIME_MODULE_SYNC_H_
#define FABRIC_RUNTIME_MODULE_SYNC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/communicator.h"
#include "runtime/optim_state.h"

namespace fabric::runtime {

// Rank 0's values of `tensors` (parameters, buffers) into every rank's, in place: one
// flattened broadcast per dtype and device, each tensor keeping its own dtype.
absl::Status BroadcastFromRankZero(Communicator* comm, const std::vector<at::Tensor>& tensors);

// Copies state[name] into `target` (any device/dtype), NotFound when the checkpoint has
// no such tensor, InvalidArgument when the shapes differ.
absl::Status CopyNamed(const TensorMap& state, const std::string& name, at::Tensor target);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_MODULE_SYNC_H_
