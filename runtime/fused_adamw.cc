#include "runtime/fused_adamw.h"

#include <map>
#include <memory>
#include <tuple>

#include "ATen/ATen.h"
#include "torch/utils.h"

namespace fabric::runtime {
namespace {

// The tensors one _fused_adamw_ call takes, for parameters of one device and dtype.
struct Batch {
  std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps;
};

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    std::map<std::tuple<int, int, at::ScalarType>, Batch> batches;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      TORCH_CHECK(!p.grad().is_sparse(), "FusedAdamW does not support sparse gradients");
      void* key = p.unsafeGetTensorImpl();
      auto& slot = state_[key];
      if (slot == nullptr) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(0);
        s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        if (o.amsgrad()) s->max_exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      if (o.amsgrad() && !s.max_exp_avg_sq().defined()) {
        s.max_exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
      }
      StepCounter& c = counters_[key];
      if (c.value != s.step() || !c.tensor.defined() || c.tensor.device() != p.device()) {
        // First step, or the state was replaced (a checkpoint or a recovery loaded it).
        c.tensor = at::full({}, static_cast<double>(s.step()),
                            at::TensorOptions().dtype(at::kFloat).device(p.device()));
      }
      Batch& b =
          batches[{static_cast<int>(p.device().type()), p.device().index(), p.scalar_type()}];
      b.params.push_back(p);
      b.grads.push_back(p.grad());
      b.exp_avgs.push_back(s.exp_avg());
      b.exp_avg_sqs.push_back(s.exp_avg_sq());
      if (o.amsgrad()) b.max_exp_avg_sqs.push_back(s.max_exp_avg_sq());
      b.steps.push_back(c.tensor);
      s.step(s.step() + 1);  // c.tensor follows below, before the kernel reads it
      c.value = s.step();
    }
    const auto [beta1, beta2] = o.betas();
    for (auto& [where, b] : batches) {
      // The kernel reads the step counters as they are (torch's Python AdamW adds 1 first).
      at::_foreach_add_(b.steps, 1);
      at::_fused_adamw_(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, b.max_exp_avg_sqs, b.steps,
                        o.lr(), beta1, beta2, o.weight_decay(), o.eps(), o.amsgrad(),
                        /*maximize=*/false);
    }
  }
  return loss;
}

}  // namespace fabric::runtime
