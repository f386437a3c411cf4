#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

class CollectivesTest : public ::testing::TestWithParam<int> {};

TEST_P(CollectivesTest, KnownValuesOnEveryRank) {
  JobSpec spec{WorkerBinary(), {"collectives"}, GetParam()};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 0) << Describe(results);
    EXPECT_THAT(r.output, ::testing::HasSubstr("OK collectives rank=" + std::to_string(r.rank) +
                                               " world=" + std::to_string(GetParam())));
  }
}

INSTANTIATE_TEST_SUITE_P(Worlds, CollectivesTest, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace fabric::testing
