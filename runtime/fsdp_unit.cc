#include "runtime/fsdp_unit.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "ATen/autocast_mode.h"
#include "torch/autograd.h"

namespace fabric::runtime {
namespace {

thread_local std::vector<UnitRunner*> active_runners;

// Data an autograd node of ours keeps until backward, owned by its context.
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

// What a checkpointed forward needs again in backward.
struct Recompute : torch::CustomClassHolder {
  UnitForward f;
  std::function<void()> before;
  at::Tensor input;  // detached
  bool input_requires_grad = false;
  at::Device device{at::kCPU};
  std::vector<at::Generator> generators;  // clones holding the states forward started with
  bool autocast = false;
  at::ScalarType autocast_dtype = at::kFloat;
};

// The generators `f` may draw from: the CPU's and, for a CUDA input, its device's.
std::vector<at::Generator> DefaultGenerators(const at::Device& device) {
  std::vector<at::Generator> gens{at::globalContext().defaultGenerator(at::kCPU)};
  if (device.is_cuda()) gens.push_back(at::globalContext().defaultGenerator(device));
  return gens;
}

struct CheckpointFn : public torch::autograd::Function<CheckpointFn> {
  // `anchor` requires grad, so that the node is recorded even when `input` does not
  // (the parameters inside f still need their gradients).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& anchor, at::IValue state) {
    auto r = c10::static_intrusive_pointer_cast<Recompute>(state.toCapsule());
    for (const at::Generator& g : DefaultGenerators(r->device)) r->generators.push_back(g.clone());
    r->autocast = at::autocast::is_autocast_enabled(r->device.type());
    r->autocast_dtype = at::autocast::get_autocast_dtype(r->device.type());
    ctx->saved_data["state"] = std::move(state);
    return r->f(input);  // autograd is off inside a Function's forward
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto r = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["state"].toCapsule());
    if (r->before) r->before();
    // Recompute with the forward's RNG states and autocast state, then put the current
    // ones back.
    std::vector<at::Generator> now;
    std::vector<at::Generator> gens = DefaultGenerators(r->device);
    for (size_t i = 0; i < gens.size(); ++i) {
      now.push_back(gens[i].clone());
      std::lock_guard<std::mutex> lock(gens[i].mutex());
      gens[i].set_state(r->generators[i].get_state());
    }
    const c10::DeviceType type = r->device.type();
    const bool prev_autocast = at::autocast::is_autocast_enabled(type);
    const at::ScalarType prev_dtype = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_dtype(type, r->autocast_dtype);
    at::autocast::set_autocast_enabled(type, r->autocast);
    at::Tensor x = r->input.detach().requires_grad_(r->input_requires_grad);
    at::Tensor y;
    {
      torch::AutoGradMode grad_on(true);
      y = r->f(x);
    }
    at::autocast::set_autocast_enabled(type, prev_autocast);
    at::autocast::set_autocast_dtype(type, prev_dtype);
    if (r->autocast) at::autocast::clear_cache();
    for (size_t i = 0; i < gens.size(); ++i) {
      std::lock_guard<std::mutex> lock(gens[i].mutex());
      gens[i].set_state(now[i].get_state());
    }
    if (y.requires_grad()) torch::autograd::backward({y}, {grads[0]});
    return {r->input_requires_grad ? x.grad() : at::Tensor(), at::Tensor(), at::Tensor()};
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

at::Tensor RunUnit(const torch::nn::Module& module, const at::Tensor& input, const UnitForward& f) {
  for (UnitRunner* r : active_runners) {
    if (std::optional<at::Tensor> out = r->RunIfUnit(module, input, f)) return *std::move(out);
  }
  return f(input);
}

at::Tensor BackwardGate(const at::Tensor& x, std::function<void()> before_backward) {
  return Gate::apply(
      x, at::IValue::make_capsule(c10::make_intrusive<Callback>(std::move(before_backward))));
}

at::Tensor Checkpointed(const at::Tensor& input, UnitForward f,
                        std::function<void()> before_recompute) {
  auto r = c10::make_intrusive<Recompute>();
  r->f = std::move(f);
  r->before = std::move(before_recompute);
  r->input = input.detach();
  r->input_requires_grad = input.requires_grad();
  r->device = input.device();
  at::Tensor anchor = at::empty({0}, input.options().requires_grad(false)).requires_grad_(true);
  return CheckpointFn::apply(input, anchor, at::IValue::make_capsule(std::move(r)));
}

}  // namespace fabric::runtime
