#include "runtime/grad_norm.h"

#include <cmath>
#include <vector>

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

// The per-parameter computation the foreach one replaces (ddp.cc before issue 29).
double PerParameterNorm(const std::vector<at::Tensor>& grads) {
  std::vector<at::Tensor> norms;
  for (const at::Tensor& g : grads) {
    if (g.defined()) norms.push_back(g.norm(2).to(at::kDouble));
  }
  return norms.empty() ? 0.0 : at::stack(norms).norm(2).item<double>();
}

std::vector<at::Tensor> Grads() {
  at::manual_seed(3);
  return {at::randn({17, 5}),
          at::Tensor(),
          at::randn({3}) * 100,
          at::randn({64, 64}) * 1e-3,
          at::randn({2, 2, 2}).to(at::kBFloat16),
          at::randn({9}).to(at::kDouble)};
}

TEST(GradNormTest, EqualsThePerParameterNorm) {
  const std::vector<at::Tensor> g = Grads();
  const double expected = PerParameterNorm(g);
  const double got = std::sqrt(SquaredNormOf(g).item<double>());
  EXPECT_NEAR(got, expected, 1e-6 * expected);
  EXPECT_EQ(SquaredNormOf(g).scalar_type(), at::kDouble);
}

TEST(GradNormTest, NoGradientsIsZero) {
  EXPECT_EQ(SquaredNormOf({}).item<double>(), 0.0);
  EXPECT_EQ(SquaredNormOf({at::Tensor()}).item<double>(), 0.0);
}

TEST(GradNormTest, ClippingMatchesThePerParameterClip) {
  std::vector<at::Tensor> g = Grads();
  std::vector<at::Tensor> ref;
  for (const at::Tensor& t : g) ref.push_back(t.defined() ? t.clone() : at::Tensor());
  const double max_norm = 1.0;
  const double norm = std::sqrt(SquaredNormOf(g).item<double>());
  ScaleInPlace(g, ClipCoefficient(norm, max_norm));
  const double coef = max_norm / (PerParameterNorm(ref) + 1e-6);
  for (at::Tensor& t : ref) {
    if (t.defined()) t.mul_(coef);
  }
  for (size_t i = 0; i < g.size(); ++i) {
    if (!g[i].defined()) continue;
    const double tol = g[i].scalar_type() == at::kBFloat16 ? 1e-2 : 1e-6;
    EXPECT_TRUE(at::allclose(g[i].to(at::kDouble), ref[i].to(at::kDouble), tol, 1e-9)) << i;
  }
  EXPECT_NEAR(PerParameterNorm(g), max_norm, 1e-3);
}

TEST(GradNormTest, ANormBelowTheMaximumLeavesGradientsAlone) {
  EXPECT_EQ(ClipCoefficient(0.5, 1.0), 1.0);
  EXPECT_NEAR(ClipCoefficient(4.0, 1.0), 0.25, 1e-6);
  std::vector<at::Tensor> g = {at::ones({3})};
  ScaleInPlace(g, 1.0);
  EXPECT_TRUE(at::equal(g[0], at::ones({3})));
}

}  // namespace
}  // namespace fabric::runtime
