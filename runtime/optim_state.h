// Reading and writing one parameter's optimizer state as named tensors, so that
// checkpoints hold optimizer state in a strategy-independent form ("exp_avg",
// "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", and "step" as a 0-dim int64
// tensor) that FSDP can shard and re-shard.
//
// Supported: torch::optim::SGD, Adam, AdamW (the optimizers whose state is elementwise,
// which is what sharding requires). Others return Unimplemented naming the type.
// Thread safety: none; callers own the optimizer.
#ifndef FABRIC_RUNTIME_OPTIM_STATE_H_
#define FABRIC_RUNTIME_OPTIM_STATE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "torch/optim/optimizer.h"

namespace fabric::runtime {

using TensorMap = std::map<std::string, at::Tensor>;

// The state of `param` (empty when the optimizer has not stepped it yet).
absl::StatusOr<TensorMap> GetParamState(torch::optim::Optimizer& optimizer,
                                        const at::Tensor& param);

// Replaces the state of `param`; tensors are copied. An empty map clears it.
// InvalidArgument when a tensor's shape does not match `param`.
absl::Status SetParamState(torch::optim::Optimizer& optimizer, const at::Tensor& param,
                           const TensorMap& state);

// Bytes of every state tensor the optimizer holds.
int64_t OptimizerStateBytes(torch::optim::Optimizer& optimizer);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_OPTIM_STATE_H_
