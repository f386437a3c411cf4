#include "runtime/fsdp_unit.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "torch/autograd.h"

namespace fabric::runtime {
namespace {

thread_local std::vector<UnitRunner*> active_runners;

// The callback of one gate, owned by the gate's autograd context.
struct Callback : torch::CustomClassHolder {
  explicit Callback(std::function<void()> f) : fn(std::move(f)) {}
  std::function<void()> fn;
};

// Identity in forward; its backward runs the callback first.
struct Gate : public torch::autograd::Function<Gate> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            at::IValue callback) {
    ctx->saved_data["callback"] = std::move(callback);
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    c10::static_intrusive_pointer_cast<Callback>(ctx->saved_data["callback"].toCapsule())->fn();
    return {grads[0], at::Tensor()};
  }
};

}  // namespace

void ActivateUnitRunner(UnitRunner* runner) {
  if (std::find(active_runners.begin(), active_runners.end(), runner) == active_runners.end()) {
    active_runners.push_back(runner);
  }
}

void DeactivateUnitRunner(UnitRunner* runner) {
  active_runners.erase(std::remove(active_runners.begin(), active_runners.end(), runner),
                       active_runners.end());
}

at::Tensor RunUnit(const torch::nn::Module& module, const std::function<at::Tensor()>& f) {
  for (UnitRunner* r : active_runners) {
    if (std::optional<at::Tensor> out = r->RunIfUnit(module, f)) return *std::move(out);
  }
  return f();
}

at::Tensor BackwardGate(const at::Tensor& x, std::function<void()> before_backward) {
  return Gate::apply(
      x, at::IValue::make_capsule(c10::make_intrusive<Callback>(std::move(before_backward))));
}

}  // namespace fabric::runtime
