#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

TEST(PrecisionTest, Bf16MixedComputesInBf16WithFp32MasterWeights) {
  JobSpec spec{WorkerBinary(), {"bf16"}, 1};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  EXPECT_EQ(results[0].exit_code, 0) << Describe(results);
  EXPECT_THAT(results[0].output,
              ::testing::HasSubstr("BF16 compute=BFloat16 master=Float"));
}

}  // namespace
}  // namespace fabric::testing
