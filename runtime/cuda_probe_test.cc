#include "runtime/cuda_probe.h"

#include "c10/util/Exception.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch/cuda.h"

namespace fabric::runtime {
namespace {

using ::testing::HasSubstr;

TEST(ProbeCudaTest, KeepsTheInitializationWarning) {
  CudaProbe p = ProbeCudaWith([] {
    TORCH_WARN("CUDA initialization: CUDA driver initialization failed, you might not have a GPU");
    return 0;
  });
  EXPECT_EQ(p.devices, 0);
  EXPECT_THAT(p.init_error, HasSubstr("CUDA driver initialization failed"));
}

TEST(ProbeCudaTest, OtherWarningsAreNoInitError) {
  CudaProbe p = ProbeCudaWith([] {
    TORCH_WARN("something unrelated");
    return 2;
  });
  EXPECT_EQ(p.devices, 2);
  EXPECT_EQ(p.init_error, "");
}

TEST(ProbeCudaTest, AThrownErrorIsAnInitError) {
  CudaProbe p = ProbeCudaWith([]() -> int { TORCH_CHECK(false, "no CUDA runtime"); });
  EXPECT_EQ(p.devices, 0);
  EXPECT_THAT(p.init_error, HasSubstr("no CUDA runtime"));
}

TEST(ProbeCudaTest, ThisMachine) {
  // Without a GPU (CI): no devices and, with no driver either, no error.
  CudaProbe p = ProbeCuda();
  if (torch::cuda::is_available()) {
    EXPECT_GT(p.devices, 0);
  } else {
    EXPECT_EQ(p.devices, 0);
  }
}

}  // namespace
}  // namespace fabric::runtime
