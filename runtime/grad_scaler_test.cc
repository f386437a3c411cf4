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

GradScalerOptions Options(double init, int growth_interval = 2000) {
  GradScalerOptions o;
  o.init_scale = init;
  o.growth_interval = growth_interval;
  return o;
}

TEST(GradScalerTest, ScalesLossAndUnscalesGradients) {
  GradScaler s(at::kCPU, Options(8.0));
  EXPECT_DOUBLE_EQ(s.Scale(at::scalar_tensor(2.0)).item<double>(), 16.0);
  at::Tensor p = ParamWithGrad(at::full({3}, 16.0));
  EXPECT_EQ(s.Unscale({p}).item<float>(), 0.0f);
  EXPECT_TRUE(at::allclose(p.grad(), at::full({3}, 2.0)));
}

TEST(GradScalerTest, HalfGradientsAreUnscaledToo) {
  GradScaler s(at::kCPU, Options(4.0));
  at::Tensor p = ParamWithGrad(at::full({2}, 8.0, at::kHalf));
  at::Tensor q = ParamWithGrad(at::full({2}, 8.0));
  s.Unscale({p, q});
  EXPECT_TRUE(at::allclose(p.grad().to(at::kFloat), at::full({2}, 2.0)));
  EXPECT_TRUE(at::allclose(q.grad(), at::full({2}, 2.0)));
}

TEST(GradScalerTest, InfIsFoundAndTheScaleBacksOff) {
  GradScaler s(at::kCPU, Options(8.0));
  at::Tensor g = at::ones({2});
  g[1] = std::numeric_limits<float>::infinity();
  const at::Tensor found = s.Unscale({ParamWithGrad(g)});
  EXPECT_GT(found.item<float>(), 0.0f);
  s.Update(found);
  EXPECT_DOUBLE_EQ(s.scale(), 4.0);
}

TEST(GradScalerTest, NanIsFoundToo) {
  GradScaler s(at::kCPU, Options(8.0));
  at::Tensor g = at::ones({2});
  g[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_GT(s.Unscale({ParamWithGrad(g)}).item<float>(), 0.0f);
}

TEST(GradScalerTest, GrowsAfterACleanIntervalAndAnInfRestartsTheCount) {
  GradScaler s(at::kCPU, Options(2.0, /*growth_interval=*/3));
  const at::Tensor clean = at::zeros({1});
  s.Update(clean);
  s.Update(clean);
  EXPECT_DOUBLE_EQ(s.scale(), 2.0);
  s.Update(clean);
  EXPECT_DOUBLE_EQ(s.scale(), 4.0);
  s.Update(clean);
  s.Update(at::ones({1}));  // an overflow: back off, count from zero
  EXPECT_DOUBLE_EQ(s.scale(), 2.0);
  s.Update(clean);
  s.Update(clean);
  EXPECT_DOUBLE_EQ(s.scale(), 2.0);
  s.Update(clean);
  EXPECT_DOUBLE_EQ(s.scale(), 4.0);
}

}  // namespace
}  // namespace fabric::runtime
