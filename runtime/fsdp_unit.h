// Just-in-time FSDP units and activation checkpointing. LibTorch's C++ modules have no
// forward hooks, so FSDP cannot see a unit's forward begin; a model opts in by running
// each unit's forward through RunUnit (one line per layer, as Python's
// `fully_shard(layer)` is one line):
//
//   for (auto& block : blocks) {
//     h = fabric::runtime::RunUnit(*block, h, [block, mask](const at::Tensor& x) {
//       return block->forward(x, mask);
//     });
//   }
//
// Under FSDP, when `module` is a unit of a model whose Fabric::Forward is running on this
// thread, its parameters are all-gathered right before `f` and freed right after, and
// gathered again right before the unit's backward (an identity autograd node on `f`'s
// output does it); its reduce-scatter then frees them as before. So at most one unit's
// full parameters are alive in forward, instead of the whole model. When the unit's type
// is in the checkpointing policy (FabricOptions::fsdp.checkpoint_types), `f` runs without
// autograd in forward (no activations kept) and again, with autograd, in backward (the
// random number generators' states restored, so dropout draws the same). Anywhere else
// (DDP, one device, outside Fabric::Forward, a module that is no unit) RunUnit is f(input).
// Units never run through RunUnit keep the default: gathered before the forward pass.
//
// Contracts: `f` computes the unit's output from `input` (and from constants it holds);
// when checkpointed it is kept until backward, so it must capture by value. Errors (a
// failed collective) are thrown as c10::Error, which Fabric::Forward / Fabric::Backward
// turn into an absl::Status.
// Thread safety: the active runners are per thread (the training thread).
#ifndef FABRIC_RUNTIME_FSDP_UNIT_H_
#define FABRIC_RUNTIME_FSDP_UNIT_H_

#include <functional>
#include <optional>

#include "ATen/ATen.h"
#include "torch/nn/module.h"

namespace fabric::runtime {

using UnitForward = std::function<at::Tensor(const at::Tensor&)>;

// What an FSDP strategy registers while its model's forward runs on this thread.
class UnitRunner {
 public:
  virtual ~UnitRunner() = default;
  // Runs `f(input)` as the forward of `module` when it is one of this runner's units
  // (see above); nullopt, without calling f, when it is not.
  virtual std::optional<at::Tensor> RunIfUnit(const torch::nn::Module& module,
                                              const at::Tensor& input, const UnitForward& f) = 0;
};

// Registers / unregisters `runner` for this thread. Both are idempotent.
void ActivateUnitRunner(UnitRunner* runner);
void DeactivateUnitRunner(UnitRunner* runner);

// See the top of this file.
at::Tensor RunUnit(const torch::nn::Module& module, const at::Tensor& input, const UnitForward& f);

// `x` unchanged (a view), through an autograd node whose backward calls
// `before_backward()` and then passes the gradient on: the hook that runs right before
// the backward of whatever produced `x`. `x` must require grad.
at::Tensor BackwardGate(const at::Tensor& x, std::function<void()> before_backward);

// f(input) computed without keeping activations; in backward `before_recompute()` runs,
// then f again with autograd on (same RNG states, same autocast state) and its backward,
// which accumulates the parameters' gradients and yields the input's.
at::Tensor Checkpointed(const at::Tensor& input, UnitForward f,
                        std::function<void()> before_recompute);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_FSDP_UNIT_H_
