// Dynamic loss scaling for 16-mixed precision (torch.amp.GradScaler's rule): the loss
// is multiplied by the scale before backward; before an optimizer's step (or gradient
// clipping, whichever comes first) its gradients are divided by it once (the caller
// keeps track of "once"); a step whose gradients hold inf/nan on any rank is skipped
// and the scale backs off; after `growth_interval` clean steps in a row it grows. One
// scaler serves every optimizer, updated after each step (as Lightning's plugin does).
//
// The scale, the growth tracker and the inf flag are tensors on the training device,
// updated by LibTorch's fused AMP kernels (_amp_foreach_non_finite_check_and_unscale_,
// _amp_update_scale_, on CPU and CUDA): unscaling costs no host synchronisation.
//
// May throw LibTorch errors: call it inside TorchCall. Not thread-safe.
#ifndef FABRIC_RUNTIME_GRAD_SCALER_H_
#define FABRIC_RUNTIME_GRAD_SCALER_H_

#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "c10/core/Device.h"

namespace fabric::runtime {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(at::Device device, const GradScalerOptions& options = {});

  // loss * scale.
  at::Tensor Scale(const at::Tensor& loss) const;
  // Divides every defined gradient of `params` by the scale. Returns a 1-element float
  // tensor on the device, > 0 when any of them was inf or nan (the caller max-reduces
  // it over the ranks before the step and Update).
  at::Tensor Unscale(const std::vector<at::Tensor>& params) const;
  // After a step (skipped when found_inf > 0): backs off or grows the scale.
  void Update(const at::Tensor& found_inf);
  double scale() const;
  // The state another rank needs to go on scaling exactly as this one (in-place
  // recovery): the scale and the growth tracker, copied.
  std::pair<at::Tensor, at::Tensor> State() const;
  // Takes that state (any device; copied onto this scaler's).
  void SetState(const at::Tensor& scale, const at::Tensor& growth_tracker);

 private:
  GradScalerOptions options_;
  at::Tensor scale_;           // float32 [1]
  at::Tensor growth_tracker_;  // int32 [1]: clean steps in a row
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_GRAD_SCALER_H_
