// Dynamic loss scaling for 16-mixed precision (torch.cuda.amp.GradScaler's rule): the
// loss is multiplied by `scale` before backward; before the optimizer step gradients
// are divided by it; a step whose gradients hold inf/nan is skipped and the scale
// backs off; after `growth_interval` clean steps the scale grows.
//
// Device-agnostic tensor math (Fabric enables it only for 16-mixed on CUDA). May throw
// LibTorch errors: call it inside TorchCall. Not thread-safe.
#ifndef FABRIC_RUNTIME_GRAD_SCALER_H_
#define FABRIC_RUNTIME_GRAD_SCALER_H_

#include <vector>

#include "ATen/core/Tensor.h"

namespace fabric::runtime {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(const GradScalerOptions& options = {})
      : options_(options), scale_(options.init_scale) {}

  at::Tensor Scale(const at::Tensor& loss) const;
  // Divides every defined gradient by the scale; returns true when any is inf or nan.
  bool Unscale(const std::vector<at::Tensor>& params) const;
  // After a step (found_inf: the step was skipped).
  void Update(bool found_inf);
  double scale() const { return scale_; }

 private:
  GradScalerOptions options_;
  double scale_;
  int clean_steps_ = 0;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_GRAD_SCALER_H_
