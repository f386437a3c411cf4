#include "runtime/optim_state.h"

#include <memory>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "torch/optim/adam.h"
#include "torch/optim/adamw.h"
#include "torch/optim/sgd.h"

namespace fabric::runtime {
namespace {

// LibTorch 2.x keys optimizer state by the parameter's TensorImpl address.
void* KeyOf(const at::Tensor& p) { return p.unsafeGetTensorImpl(); }

at::Tensor StepTensor(int64_t step) { return at::scalar_tensor(step, at::kLong); }

int64_t NBytes(const at::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

template <typename State>
void AdamLikeGet(const State& s, TensorMap* out) {
  (*out)["step"] = StepTensor(s.step());
  if (s.exp_avg().defined()) (*out)["exp_avg"] = s.exp_avg();
  if (s.exp_avg_sq().defined()) (*out)["exp_avg_sq"] = s.exp_avg_sq();
  if (s.max_exp_avg_sq().defined()) (*out)["max_exp_avg_sq"] = s.max_exp_avg_sq();
}

// A state tensor as the optimizer needs it: a copy on the parameter's device, in its
// dtype (as torch.optim.Optimizer.load_state_dict casts), whatever the saver used.
at::Tensor Like(const at::Tensor& saved, const at::Tensor& param) {
  return saved.to(param.options(), /*non_blocking=*/false, /*copy=*/true);
}

template <typename State>
std::unique_ptr<State> AdamLikeMake(const TensorMap& in, const at::Tensor& param) {
  auto s = std::make_unique<State>();
  if (auto it = in.find("step"); it != in.end()) s->step(it->second.item<int64_t>());
  if (auto it = in.find("exp_avg"); it != in.end()) s->exp_avg(Like(it->second, param));
  if (auto it = in.find("exp_avg_sq"); it != in.end()) s->exp_avg_sq(Like(it->second, param));
  if (auto it = in.find("max_exp_avg_sq"); it != in.end()) {
    s->max_exp_avg_sq(Like(it->second, param));
  }
  return s;
}

}  // namespace

absl::StatusOr<TensorMap> GetParamState(torch::optim::Optimizer& optimizer,
                                        const at::Tensor& param) {
  TensorMap out;
  auto& states = optimizer.state();
  auto it = states.find(KeyOf(param));
  if (it == states.end()) return out;
  torch::optim::OptimizerParamState* s = it->second.get();
  if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(s)) {
    AdamLikeGet(*adam, &out);
  } else if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(s)) {
    AdamLikeGet(*adamw, &out);
  } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(s)) {
    if (sgd->momentum_buffer().defined()) out["momentum_buffer"] = sgd->momentum_buffer();
  } else {
    return absl::UnimplementedError(
        "optimizer state: only SGD, Adam and AdamW state can be checkpointed and sharded");
  }
  return out;
}

absl::Status SetParamState(torch::optim::Optimizer& optimizer, const at::Tensor& param,
                           const TensorMap& state) {
  auto& states = optimizer.state();
  void* const key = KeyOf(param);
  if (state.empty()) {
    states.erase(key);
    return absl::OkStatus();
  }
  for (const auto& [name, t] : state) {
    if (name != "step" && t.sizes() != param.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state '", name, "' has ", t.numel(),
                                                     " elements but the parameter has ",
                                                     param.numel()));
    }
  }
  if (dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr) {
    states[key] = AdamLikeMake<torch::optim::AdamWParamState>(state, param);
  } else if (dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr) {
    states[key] = AdamLikeMake<torch::optim::AdamParamState>(state, param);
  } else if (dynamic_cast<torch::optim::SGD*>(&optimizer) != nullptr) {
    auto s = std::make_unique<torch::optim::SGDParamState>();
    if (auto it = state.find("momentum_buffer"); it != state.end()) {
      s->momentum_buffer(Like(it->second, param));
    }
    states[key] = std::move(s);
  } else {
    return absl::UnimplementedError(
        "optimizer state: only SGD, Adam and AdamW state can be checkpointed and sharded");
  }
  return absl::OkStatus();
}

int64_t OptimizerStateBytes(torch::optim::Optimizer& optimizer) {
  int64_t total = 0;
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      auto state = GetParamState(optimizer, p);
      if (!state.ok()) continue;
      for (const auto& [name, t] : *state) {
        if (name != "step") total += NBytes(t);
      }
    }
  }
  return total;
}

}  // namespace fabric::runtime
