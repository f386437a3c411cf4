// AdamW with LibTorch's fused kernel (at::_fused_adamw_: one kernel for a whole group of
// parameters on a device, CUDA and CPU, instead of ~6 kernels per parameter in
// torch::optim::AdamW's C++ step). The update is torch's AdamW (decoupled weight decay,
// bias correction, amsgrad), the same formula as torch::optim::AdamW to rounding.
//
// It is a torch::optim::AdamW: its state is AdamWParamState (exp_avg, exp_avg_sq,
// max_exp_avg_sq, step), so checkpoints, FSDP's sharded state and in-place recovery treat
// it as AdamW (optim_state.h). The kernel's step counters (float tensors on each
// parameter's device) are kept beside that state and follow it when it is replaced (a
// checkpoint load).
//
// Thread safety: as torch::optim::Optimizer (one thread steps it).
#ifndef FABRIC_RUNTIME_FUSED_ADAMW_H_
#define FABRIC_RUNTIME_FUSED_ADAMW_H_

#include <unordered_map>
#include <vector>

#include "torch/optim/adamw.h"

namespace fabric::runtime {

class FusedAdamW : public torch::optim::AdamW {
 public:
  explicit FusedAdamW(std::vector<at::Tensor> params, torch::optim::AdamWOptions defaults = {})
      : torch::optim::AdamW(std::move(params), std::move(defaults)) {}
  explicit FusedAdamW(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                      torch::optim::AdamWOptions defaults = {})
      : torch::optim::AdamW(groups, std::move(defaults)) {}

  // One AdamW update of every parameter with a gradient: per group and per (device,
  // dtype), one at::_fused_adamw_. Parameters without a gradient are skipped (and get no
  // state), as in torch::optim::AdamW. Throws LibTorch's errors (a sparse gradient, an
  // unsupported dtype); callers are inside TorchCall (Fabric::Step).
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  struct StepCounter {
    at::Tensor tensor;   // float32 scalar on the parameter's device, the kernel's counter
    int64_t value = -1;  // the AdamWParamState step it holds; -1: not yet made
  };
  std::unordered_map<void*, StepCounter> counters_;  // by parameter (TensorImpl*)
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_FUSED_ADAMW_H_
