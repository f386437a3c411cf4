#include "runtime/grad_norm.h"

#include <map>

#include "ATen/ATen.h"

namespace fabric::runtime {
namespace {

// The defined tensors of `grads` grouped by dtype (a foreach kernel's fast path needs one).
std::map<at::ScalarType, std::vector<at::Tensor>> ByDtype(const std::vector<at::Tensor>& grads) {
  std::map<at::ScalarType, std::vector<at::Tensor>> out;
  for (const at::Tensor& g : grads) {
    if (g.defined()) out[g.scalar_type()].push_back(g);
  }
  return out;
}

}  // namespace

at::Tensor SquaredNormOf(const std::vector<at::Tensor>& grads) {
  at::Tensor total;
  for (const auto& [dtype, group] : ByDtype(grads)) {
    // Norms accumulated and returned in float32 whatever the gradient dtype (bf16, fp16).
    const at::ScalarType acc = dtype == at::kDouble ? at::kDouble : at::kFloat;
    std::vector<at::Tensor> norms = at::_foreach_norm(group, 2, acc);
    at::Tensor part = at::stack(norms).to(at::kDouble).pow(2).sum().reshape({1});
    total = total.defined() ? total.add_(part) : part;
  }
  return total.defined() ? total : at::zeros({1}, at::kDouble);
}

double ClipCoefficient(double norm, double max_norm) {
  const double coef = max_norm / (norm + 1e-6);
  return coef < 1.0 ? coef : 1.0;
}

void ScaleInPlace(const std::vector<at::Tensor>& grads, double coef) {
  if (coef == 1.0) return;
  for (auto& [dtype, group] : ByDtype(grads)) at::_foreach_mul_(group, coef);
}

}  // namespace fabric::runtime
