#include "runtime/grad_scaler.h"

#include <limits>

#include "ATen/ATen.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

at::Tensor ParamWithGrad(at::Tensor grad) {
  at::Tensor p = at::zeros_like(grad).set_requires_grad(true);
  p.mutable_grad() = grad;
  return p;
}

TEST(GradScalerTest, ScalesLossAndUnscalesGradients) {
  GradScaler s(GradScalerOptions{.init_scale = 8.0});
  EXPECT_DOUBLE_EQ(s.Scale(at::scalar_tensor(2.0)).item<double>(), 16.0);
  at::Tensor p = ParamWithGrad(at::full({3}, 16.0));
  EXPECT_FALSE(s.Unscale({p}));
  EXPECT_TRUE(at::allclose(p.grad(), at::full({3}, 2.0)));
}

TEST(GradScalerTest, InfSkipsAndBacksOff) {
  GradScaler s(GradScalerOptions{.init_scale = 8.0});
  at::Tensor g = at::ones({2});
  g[1] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(s.Unscale({ParamWithGrad(g)}));
  s.Update(true);
  EXPECT_DOUBLE_EQ(s.scale(), 4.0);
}

TEST(GradScalerTest, GrowsAfterCleanInterval) {
  GradScaler s(GradScalerOptions{.init_scale = 2.0, .growth_interval = 3});
  s.Update(false);
  s.Update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 2.0);
  s.Update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 4.0);
}

}  // namespace
}  // namespace fabric::runtime
