#include "runtime/fused_adamw.h"

#include <vector>

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

namespace fabric::runtime {
namespace {

// Two copies of the same parameters; `steps` updates with the same gradients by
// torch::optim::AdamW and by FusedAdamW; the largest difference between them.
double MaxDiffAfter(int steps, const torch::optim::AdamWOptions& options,
                    bool skip_second_grad = false) {
  at::manual_seed(5);
  std::vector<at::Tensor> ref = {at::randn({7, 3}), at::randn({5}), at::randn({2, 2})};
  std::vector<at::Tensor> fused;
  for (auto& t : ref) {
    t.requires_grad_(true);
    fused.push_back(t.detach().clone().requires_grad_(true));
  }
  torch::optim::AdamW a(ref, options);
  FusedAdamW b(fused, options);
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < ref.size(); ++i) {
      if (skip_second_grad && i == 1) continue;  // a parameter with no gradient
      at::Tensor g = at::randn(ref[i].sizes()) * (1.0 + s);
      ref[i].mutable_grad() = g.clone();
      fused[i].mutable_grad() = g.clone();
    }
    a.step();
    b.step();
  }
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = (ref[i] - fused[i]).abs().max().item<double>();
    if (!(d <= worst)) worst = d;  // a NaN wins (std::max would drop it)
  }
  return worst;
}

TEST(FusedAdamWTest, EqualsTorchAdamW) {
  EXPECT_LT(MaxDiffAfter(10, torch::optim::AdamWOptions(1e-2).weight_decay(0.1)), 1e-6);
}

TEST(FusedAdamWTest, EqualsTorchAdamWWithAmsgradAndBetas) {
  auto o = torch::optim::AdamWOptions(3e-3).betas({0.8, 0.95}).eps(1e-6).amsgrad(true);
  EXPECT_LT(MaxDiffAfter(8, o), 1e-6);
}

TEST(FusedAdamWTest, ParametersWithoutGradientsAreLeftAlone) {
  EXPECT_LT(MaxDiffAfter(4, torch::optim::AdamWOptions(1e-2), /*skip_second_grad=*/true), 1e-6);
}

TEST(FusedAdamWTest, StateIsAdamWStateAndALoadedStepIsFollowed) {
  at::Tensor p = at::ones({4}).requires_grad_(true);
  FusedAdamW opt({p}, torch::optim::AdamWOptions(0.1));
  p.mutable_grad() = at::ones({4});
  opt.step();
  auto& s = static_cast<torch::optim::AdamWParamState&>(*opt.state().at(p.unsafeGetTensorImpl()));
  EXPECT_EQ(s.step(), 1);
  ASSERT_TRUE(s.exp_avg().defined());
  // A checkpoint load sets the step (optim_state.cc): the next update uses step 101's
  // bias correction, as torch::optim::AdamW would.
  at::Tensor q = p.detach().clone().requires_grad_(true);
  torch::optim::AdamW ref({q}, torch::optim::AdamWOptions(0.1));
  q.mutable_grad() = at::ones({4});
  ref.step();
  auto& rs = static_cast<torch::optim::AdamWParamState&>(*ref.state().at(q.unsafeGetTensorImpl()));
  s.step(100);
  rs.step(100);
  rs.exp_avg(s.exp_avg().clone());
  rs.exp_avg_sq(s.exp_avg_sq().clone());
  q.data().copy_(p.detach());
  p.mutable_grad() = at::full({4}, 0.5);
  q.mutable_grad() = at::full({4}, 0.5);
  opt.step();
  ref.step();
  EXPECT_EQ(s.step(), 101);
  EXPECT_LT((p - q).abs().max().item<double>(), 1e-7) << p << q;
  EXPECT_FALSE(at::isnan(p).any().item<bool>());
}

}  // namespace
}  // namespace fabric::runtime
