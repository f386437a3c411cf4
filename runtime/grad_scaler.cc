#include "runtime/grad_scaler.h"

#include "ATen/ATen.h"

namespace fabric::runtime {

at::Tensor GradScaler::Scale(const at::Tensor& loss) const { return loss.mul(scale_); }

bool GradScaler::Unscale(const std::vector<at::Tensor>& params) const {
  bool found_inf = false;
  const double inv = 1.0 / scale_;
  for (const auto& p : params) {
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inv);
    if (!at::isfinite(g).all().item<bool>()) found_inf = true;
  }
  return found_inf;
}

void GradScaler::Update(bool found_inf) {
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    clean_steps_ = 0;
    return;
  }
  if (++clean_steps_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    clean_steps_ = 0;
  }
}

}  // namespace fabric::runtime
