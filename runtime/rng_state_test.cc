#include "runtime/rng_state.h"

#include "ATen/ATen.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

TEST(RngStateTest, CpuDeviceHasNoCudaState) {
  FABRIC_ASSERT_OK_AND_ASSIGN(RngStates s, ReadRngStates(0, c10::Device(c10::kCPU)));
  EXPECT_TRUE(s.cpu.defined());
  EXPECT_FALSE(s.cuda.defined());
}

TEST(RngStateTest, RestoreRepeatsTheDraws) {
  at::manual_seed(11);
  FABRIC_ASSERT_OK_AND_ASSIGN(RngStates s, ReadRngStates(0, c10::Device(c10::kCPU)));
  const at::Tensor first = at::rand({4});
  at::rand({100});  // move on
  ASSERT_THAT(RestoreRngStates(0, c10::Device(c10::kCPU), s), IsOk());
  EXPECT_TRUE(at::equal(at::rand({4}), first));
}

TEST(RngStateTest, ACudaStateOnACpuDeviceIsIgnored) {
  // A GPU run's checkpoint loaded on the CPU.
  RngStates s;
  s.cuda = at::arange(16, at::kByte);
  EXPECT_THAT(RestoreRngStates(0, c10::Device(c10::kCPU), s), IsOk());
}

TEST(RngStateTest, AMalformedCpuStateIsAnError) {
  RngStates s;
  s.cpu = at::arange(3, at::kByte);  // far too short for the generator
  EXPECT_FALSE(RestoreRngStates(2, c10::Device(c10::kCPU), s).ok());
}

}  // namespace
}  // namespace fabric::runtime
