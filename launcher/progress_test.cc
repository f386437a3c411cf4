#include "launcher/progress.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

absl::Time At(double seconds) { return kT0 + absl::Seconds(seconds); }

TEST(ProgressEstimatorTest, NoRateOrEtaBeforeTwoSamples) {
  ProgressEstimator p;
  EXPECT_EQ(p.StepsPerSecond(), std::nullopt);
  EXPECT_EQ(p.Eta(100), std::nullopt);
  EXPECT_EQ(p.last_step(), std::nullopt);
  p.Add(At(0), 10);
  EXPECT_EQ(p.StepsPerSecond(), std::nullopt);
  EXPECT_EQ(p.Eta(100), std::nullopt);
  EXPECT_EQ(p.last_step(), 10u);
}

TEST(ProgressEstimatorTest, RateAndEtaOfASteadyRank) {
  ProgressEstimator p;
  for (int s = 0; s <= 10; ++s) p.Add(At(s), 4 * s);  // 4 steps/s
  ASSERT_TRUE(p.StepsPerSecond().has_value());
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 4.0);
  EXPECT_EQ(p.Eta(100), absl::Seconds(15));  // 60 steps left at 4/s
}

TEST(ProgressEstimatorTest, TheWindowForgetsAnOldRate) {
  ProgressEstimator p;                                 // 30 s window
  for (int s = 0; s <= 60; ++s) p.Add(At(s), 10 * s);  // 10 steps/s for a minute
  const uint64_t base = 600;
  for (int s = 1; s <= 40; ++s) p.Add(At(60 + s), base + s);  // then 1 step/s
  ASSERT_TRUE(p.StepsPerSecond().has_value());
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 1.0);
  // Negative control: within the window of the change the old rate still shows.
  ProgressEstimator q;
  for (int s = 0; s <= 60; ++s) q.Add(At(s), 10 * s);
  for (int s = 1; s <= 10; ++s) q.Add(At(60 + s), base + s);
  EXPECT_GT(*q.StepsPerSecond(), 1.0);
}

TEST(ProgressEstimatorTest, AStalledRankFallsToZeroWithNoEta) {
  ProgressEstimator p;
  for (int s = 0; s <= 10; ++s) p.Add(At(s), 2 * s);
  for (int s = 11; s <= 41; ++s) p.Add(At(s), 20);  // stuck at step 20 for 31 s
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 0.0);
  EXPECT_EQ(p.Eta(100), std::nullopt);
}

TEST(ProgressEstimatorTest, SparseSamplesKeepAnAnchorBeforeTheWindow) {
  ProgressEstimator p;
  p.Add(At(0), 0);
  p.Add(At(120), 240);  // two minutes apart: more than the window
  ASSERT_TRUE(p.StepsPerSecond().has_value());
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 2.0);
}

TEST(ProgressEstimatorTest, AStepBackStartsAfresh) {
  ProgressEstimator p;
  for (int s = 0; s <= 5; ++s) p.Add(At(s), 100 + 10 * s);
  p.Add(At(6), 40);  // restarted from a checkpoint at step 40
  EXPECT_EQ(p.StepsPerSecond(), std::nullopt);
  EXPECT_EQ(p.last_step(), 40u);
  p.Add(At(8), 44);
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 2.0);
}

TEST(ProgressEstimatorTest, ATimeBackStartsAfreshAndTheSameTimeReplaces) {
  ProgressEstimator p;
  p.Add(At(10), 10);
  p.Add(At(5), 12);  // the clock went back
  EXPECT_EQ(p.StepsPerSecond(), std::nullopt);
  p.Add(At(7), 16);
  p.Add(At(7), 18);  // the same time: replaces
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 3.0);
  EXPECT_EQ(p.last_step(), 18u);
}

TEST(ProgressEstimatorTest, EtaIsZeroAtOrPastTheTotal) {
  ProgressEstimator p;
  p.Add(At(0), 100);
  EXPECT_EQ(p.Eta(100), absl::ZeroDuration());
  EXPECT_EQ(p.Eta(50), absl::ZeroDuration());
  EXPECT_EQ(p.Eta(101), std::nullopt);  // no rate yet
}

TEST(ProgressEstimatorTest, MaxSamplesBoundsTheWindow) {
  ProgressOptions o;
  o.max_samples = 4;
  ProgressEstimator p(o);
  // 10 steps/s for 2 s, then 1 step/s: with only 4 samples kept (3 s) the rate is 1/s.
  p.Add(At(0), 0);
  p.Add(At(1), 10);
  p.Add(At(2), 20);
  for (int s = 3; s <= 5; ++s) p.Add(At(s), 20 + (s - 2));
  EXPECT_DOUBLE_EQ(*p.StepsPerSecond(), 1.0);
  p.Reset();
  EXPECT_EQ(p.last_step(), std::nullopt);
}

}  // namespace
}  // namespace fabric::launcher
