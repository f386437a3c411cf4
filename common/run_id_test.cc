#include "common/run_id.h"

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

TEST(RunIdTest, Forms) {
  EXPECT_EQ(SlurmRunId(4242, 3), "slurm-4242.3");
  EXPECT_THAT(LocalRunId(77, absl::FromUnixSeconds(5)),
              ::testing::MatchesRegex("fabric-77-[0-9a-f]+"));
  EXPECT_NE(LocalRunId(77, absl::FromUnixSeconds(5)), LocalRunId(77, absl::FromUnixSeconds(6)));
  EXPECT_EQ(SharedRunId("n0:29400"), SharedRunId("n0:29400"));  // every node agrees
  EXPECT_NE(SharedRunId("n0:29400"), SharedRunId("n0:29401"));
  for (const std::string& id : {SlurmRunId(1, 0), LocalRunId(1, absl::Now()), SharedRunId("h:1")}) {
    EXPECT_TRUE(IsValidRunId(id)) << id;
  }
  EXPECT_FALSE(IsValidRunId(""));
  EXPECT_FALSE(IsValidRunId("a b"));
  EXPECT_FALSE(IsValidRunId(std::string(129, 'a')));
}

}  // namespace
}  // namespace fabric
