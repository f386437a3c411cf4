#include "runtime/grad_scaler.h"

#include <map>

#include "ATen/ATen.h"

namespace fabric::runtime {

GradScaler::GradScaler(at::Device device, const GradScalerOptions& options) : options_(options) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  scale_ = at::full({1}, options.init_scale, f32);
  growth_tracker_ = at::zeros({1}, at::TensorOptions().dtype(at::kInt).device(device));
}

at::Tensor GradScaler::Scale(const at::Tensor& loss) const {
  return loss * scale_.to(loss.device());
}

at::Tensor GradScaler::Unscale(const std::vector<at::Tensor>& params) const {
  at::Tensor found_inf = at::zeros({1}, scale_.options());
  const at::Tensor inv_scale = scale_.reciprocal();
  // The fused kernel takes gradients of one dtype and device at a time.
  std::map<std::pair<at::ScalarType, std::string>, std::vector<at::Tensor>> groups;
  for (const at::Tensor& p : params) {
    const at::Tensor& g = p.grad();
    if (g.defined()) groups[{g.scalar_type(), g.device().str()}].push_back(g);
  }
  for (auto& [key, grads] : groups) {
    const at::Device device = grads[0].device();
    if (device == found_inf.device()) {
      at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale);
    } else {  // e.g. a CPU-offloaded shard
      at::Tensor found = at::zeros({1}, found_inf.options().device(device));
      at::_amp_foreach_non_finite_check_and_unscale_(grads, found, inv_scale.to(device));
      found_inf.add_(found.to(found_inf.device()));
    }
  }
  return found_inf;
}

void GradScaler::Update(const at::Tensor& found_inf) {
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf.to(scale_.device()),
                         options_.growth_factor, options_.backoff_factor, options_.growth_interval);
}

double GradScaler::scale() const { return scale_.item<double>(); }

std::pair<at::Tensor, at::Tensor> GradScaler::State() const {
  return {scale_.clone(), growth_tracker_.clone()};
}

void GradScaler::SetState(const at::Tensor& scale, const at::Tensor& growth_tracker) {
  scale_.copy_(scale.reshape({1}));
  growth_tracker_.copy_(growth_tracker.reshape({1}));
}

}  // namespace fabric::runtime
