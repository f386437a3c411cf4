#include "launcher/top.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

JobStatus Job(int ranks) {
  JobStatus j;
  j.run_id = "topjob";
  j.world_size = ranks;
  j.restarts_used = 1;
  j.restarts_left = 2;
  for (int i = 0; i < ranks; ++i) {
    RankStatus r;
    r.global_rank = i;
    r.pid = 100 + i;
    r.state = RankState::kRunning;
    r.step = 50 + i;  // rank 0 is the slowest
    r.total_steps = 150;
    r.step_rate = 10 + i;
    j.ranks.push_back(r);
  }
  return j;
}

TEST(TopLinesTest, HeaderWithTheJobsProgressThenOneRowARank) {
  std::vector<std::string> lines = TopLines(Job(4), absl::UnixEpoch(), 200);
  ASSERT_EQ(lines.size(), 2u + 4u + 4u);  // top's two, status' header (4 lines), 4 ranks
  EXPECT_THAT(lines[0], HasSubstr("q quits"));
  // Slowest step 50 of 150, median rate of {10, 11, 12, 13} = 12: 100 / 12 -> 8 s.
  EXPECT_THAT(lines[1], HasSubstr("step 50/150  12.00 steps/s  ETA 8s"));
  EXPECT_THAT(lines[1], HasSubstr("restarts 1 used, 2 left"));
  EXPECT_THAT(lines.back(), HasSubstr("103"));
}

TEST(TopLinesTest, LinesFitTheWidthAndUnknownProgressSaysSo) {
  JobStatus j = Job(2);
  for (RankStatus& r : j.ranks) r.step.reset();
  for (const std::string& l : TopLines(j, absl::UnixEpoch(), 20)) EXPECT_LE(l.size(), 20u);
  EXPECT_THAT(TopLines(j, absl::UnixEpoch(), 200)[1], HasSubstr("step -"));
}

}  // namespace
}  // namespace fabric::launcher
