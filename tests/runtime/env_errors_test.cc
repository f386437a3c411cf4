// Bad or contradicting configuration reaching a real worker process.
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(EnvErrorsTest, CodeOptionContradictingLtStrategyFailsNamingBoth) {
  JobSpec spec{WorkerBinary(), {"conflict", "strategy=ddp"}, 2, {{"LT_STRATEGY", "fsdp"}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 3) << Describe(results);
    EXPECT_THAT(r.output,
                AllOf(HasSubstr("ERROR"), HasSubstr("'ddp'"), HasSubstr("LT_STRATEGY='fsdp'")));
  }
}

TEST(EnvErrorsTest, LtStrategyAloneConfiguresTheRuntime) {
  // Negative control of the test above: without a code option LT_STRATEGY is accepted.
  JobSpec spec{WorkerBinary(), {"start"}, 2, {{"LT_STRATEGY", "fsdp"}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  for (const auto& r : results) EXPECT_EQ(r.exit_code, 0) << Describe(results);
}

TEST(EnvErrorsTest, MalformedRankIsAClearError) {
  JobSpec spec{WorkerBinary(), {"start"}, 1, {{"RANK", "zero"}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  EXPECT_EQ(results[0].exit_code, 3);
  EXPECT_THAT(results[0].output, HasSubstr("RANK='zero' is not a non-negative integer"));
}

TEST(EnvErrorsTest, BadPrecisionIsAClearError) {
  JobSpec spec{WorkerBinary(), {"start"}, 1, {{"LT_PRECISION", "fp4"}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  EXPECT_EQ(results[0].exit_code, 3);
  EXPECT_THAT(results[0].output, HasSubstr("LT_PRECISION='fp4'"));
}

TEST(EnvErrorsTest, CudaWithoutAGpuIsAClearError) {
  JobSpec spec{
      WorkerBinary(), {"start"}, 1, {{"LT_ACCELERATOR", "cuda"}, {"CUDA_VISIBLE_DEVICES", ""}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  EXPECT_EQ(results[0].exit_code, 3);
  EXPECT_THAT(results[0].output, HasSubstr("sees no GPU"));
}

TEST(EnvErrorsTest, MissingRankZeroTimesOutWithAClearError) {
  JobSpec spec{WorkerBinary(), {"absent_rank0", "timeout_s=3"}, 2};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  EXPECT_EQ(results[0].exit_code, 0);
  EXPECT_EQ(results[1].exit_code, 4) << Describe(results);
  EXPECT_THAT(results[1].output, AllOf(HasSubstr("rank 1: connect to the store at 127.0.0.1")));
}

}  // namespace
}  // namespace fabric::testing
