#include <signal.h>

#include <cstdio>

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

// A dead peer mid-collective: the survivors' collective returns an error (not a hang)
// well within the collective timeout (30 s here; Gloo sees the closed connection).
TEST(DeadPeerTest, SurvivorsGetAnErrorWithinTheTimeout) {
  JobSpec spec{WorkerBinary(), {"die_mid_collective", "victim=2", "after=20", "timeout_s=30"}, 3};
  spec.timeout = absl::Seconds(90);
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].signal, SIGKILL) << Describe(results);
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE(r);
    EXPECT_FALSE(results[r].timed_out) << Describe(results);
    EXPECT_EQ(results[r].exit_code, 5) << Describe(results);
    std::vector<std::string> lines = LinesWithPrefix(results[r].output, "SURVIVOR ");
    ASSERT_EQ(lines.size(), 1u) << Describe(results);
    EXPECT_THAT(lines[0], ::testing::HasSubstr("rank " + std::to_string(r) + ": allreduce"));
    int ms = -1;
    std::sscanf(lines[0].c_str(), "rank=%*d ms=%d", &ms);
    EXPECT_GE(ms, 0);
    EXPECT_LT(ms, 30000) << lines[0];
  }
}

}  // namespace
}  // namespace fabric::testing
