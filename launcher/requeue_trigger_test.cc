#include "launcher/requeue_trigger.h"

#include <signal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(RequeueTriggerTest, DisabledNeverFires) {
  RequeueTrigger t(0, absl::Seconds(5));
  EXPECT_FALSE(t.OnSignal(SIGUSR1, kT0));
  EXPECT_FALSE(t.triggered());
  EXPECT_EQ(t.deadline(), std::nullopt);
  EXPECT_FALSE(t.StopDue(kT0 + absl::Hours(1)));
}

TEST(RequeueTriggerTest, OtherSignalsDoNotTrigger) {
  RequeueTrigger t(SIGUSR1, absl::Seconds(5));
  EXPECT_FALSE(t.OnSignal(SIGUSR2, kT0));
  EXPECT_FALSE(t.OnSignal(SIGTERM, kT0));
  EXPECT_FALSE(t.triggered());
}

TEST(RequeueTriggerTest, SignalStartsTheGracePeriod) {
  RequeueTrigger t(SIGUSR2, absl::Seconds(5));
  EXPECT_TRUE(t.OnSignal(SIGUSR2, kT0));
  EXPECT_TRUE(t.triggered());
  EXPECT_EQ(t.deadline(), kT0 + absl::Seconds(5));
  EXPECT_FALSE(t.StopDue(kT0 + absl::Seconds(4)));
  EXPECT_TRUE(t.StopDue(kT0 + absl::Seconds(5)));
  // Once: the gang is stopped a single time, and nothing is pending afterwards.
  EXPECT_FALSE(t.StopDue(kT0 + absl::Seconds(6)));
  EXPECT_EQ(t.deadline(), std::nullopt);
  EXPECT_TRUE(t.triggered());
}

TEST(RequeueTriggerTest, RepeatedSignalKeepsTheFirstDeadline) {
  RequeueTrigger t(SIGUSR1, absl::Seconds(5));
  EXPECT_TRUE(t.OnSignal(SIGUSR1, kT0));
  EXPECT_FALSE(t.OnSignal(SIGUSR1, kT0 + absl::Seconds(3)));
  EXPECT_EQ(t.deadline(), kT0 + absl::Seconds(5));
}

TEST(RequeueTriggerTest, ZeroGraceStopsAtOnce) {
  RequeueTrigger t(SIGUSR1, absl::ZeroDuration());
  EXPECT_TRUE(t.OnSignal(SIGUSR1, kT0));
  EXPECT_TRUE(t.StopDue(kT0));
}

}  // namespace
}  // namespace fabric::launcher
