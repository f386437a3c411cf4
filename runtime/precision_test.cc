#include "runtime/precision.h"

#include "ATen/ATen.h"
#include "ATen/autocast_mode.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

TEST(PrecisionTest, ParameterDtypes) {
  EXPECT_EQ(ParamDtype(Precision::k32True), at::kFloat);
  EXPECT_EQ(ParamDtype(Precision::k64True), at::kDouble);
  EXPECT_EQ(ParamDtype(Precision::k16True), at::kHalf);
  EXPECT_EQ(ParamDtype(Precision::kBf16True), at::kBFloat16);
  EXPECT_EQ(ParamDtype(Precision::kBf16Mixed), at::kFloat);  // fp32 master weights
  EXPECT_EQ(ParamDtype(Precision::k16Mixed), at::kFloat);
}

TEST(PrecisionTest, InputsFollowTrueParameterDtypesOnly) {
  const at::Tensor x = at::ones({2});
  EXPECT_EQ(ConvertInput(x, Precision::k16True).scalar_type(), at::kHalf);
  EXPECT_EQ(ConvertInput(x, Precision::k64True).scalar_type(), at::kDouble);
  EXPECT_EQ(ConvertInput(x, Precision::kBf16Mixed).scalar_type(), at::kFloat);  // autocast's job
  const at::Tensor ids = at::ones({2}, at::kLong);
  EXPECT_EQ(ConvertInput(ids, Precision::k16True).scalar_type(), at::kLong);  // not floats
  EXPECT_EQ(ConvertOutput(at::ones({1}, at::kHalf)).scalar_type(), at::kFloat);
}

TEST(PrecisionTest, AutocastScopeComputesInTheMixedDtypeAndRestores) {
  const at::Tensor a = at::randn({4, 4});
  {
    AutocastScope scope(Precision::k16Mixed, at::kCPU);
    EXPECT_EQ(at::matmul(a, a).scalar_type(), at::kHalf);
    {
      AutocastScope inner(Precision::kBf16Mixed, at::kCPU);
      EXPECT_EQ(at::matmul(a, a).scalar_type(), at::kBFloat16);
    }
    EXPECT_EQ(at::matmul(a, a).scalar_type(), at::kHalf);  // the outer scope again
  }
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  EXPECT_EQ(at::matmul(a, a).scalar_type(), at::kFloat);
  {
    AutocastScope none(Precision::k32True, at::kCPU);
    EXPECT_EQ(at::matmul(a, a).scalar_type(), at::kFloat);
  }
}

}  // namespace
}  // namespace fabric::runtime
