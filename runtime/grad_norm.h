// Gradient-norm clipping with LibTorch's foreach kernels: the norms of all gradients in
// one at::_foreach_norm per dtype (one kernel launch on CUDA, not one per parameter), the
// scaling in one at::_foreach_mul_, and at most one host synchronisation (the caller's
// .item() of the total). The results equal the per-parameter computation
// (norm(2) of each gradient, then the 2-norm of those) to rounding.
//
// Thread safety: functions touch only their arguments.
#ifndef FABRIC_RUNTIME_GRAD_NORM_H_
#define FABRIC_RUNTIME_GRAD_NORM_H_

#include <vector>

#include "ATen/core/Tensor.h"

namespace fabric::runtime {

// The sum over the defined tensors of `grads` of their squared 2-norms (each norm in
// float32, float64 for double gradients), as a 1-element float64 tensor on their device (a zero on the CPU when none is defined). No host
// synchronisation. REQUIRES: the defined tensors share one device. Throws LibTorch's
// errors (callers are inside TorchCall).
at::Tensor SquaredNormOf(const std::vector<at::Tensor>& grads);

// torch's clip_grad_norm_ rule: max_norm / (norm + 1e-6) when that is below 1, else 1.
double ClipCoefficient(double norm, double max_norm);

// Multiplies every defined tensor of `grads` in place by `coef` (one _foreach_mul_ per
// dtype); nothing when coef is 1.
void ScaleInPlace(const std::vector<at::Tensor>& grads, double coef);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_GRAD_NORM_H_
