#include "common/wait_schedule.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The seconds (since the start) at which a waiter polling every `tick` prints, up to `until`.
std::vector<int64_t> LinesAt(absl::Duration tick, absl::Duration until) {
  FakeClock clock;
  const absl::Time start = clock.TimeNow();
  WaitSchedule schedule(start);
  std::vector<int64_t> out;
  while (clock.TimeNow() - start <= until) {
    if (schedule.Due(clock.TimeNow())) {
      out.push_back(absl::ToInt64Seconds(clock.TimeNow() - start));
    }
    clock.AdvanceTime(tick);
  }
  return out;
}

TEST(WaitScheduleTest, FirstAtTwoSecondsThenDoublingGapsCappedAtAMinute) {
  EXPECT_THAT(LinesAt(absl::Milliseconds(100), absl::Seconds(250)),
              ElementsAre(2, 4, 8, 16, 32, 64, 124, 184, 244));
}

TEST(WaitScheduleTest, AWaitShorterThanTwoSecondsSaysNothing) {
  EXPECT_THAT(LinesAt(absl::Milliseconds(100), absl::Milliseconds(1900)), IsEmpty());
}

TEST(WaitScheduleTest, ALateCallerGetsOneLineNotABurst) {
  FakeClock clock;
  WaitSchedule schedule(clock.TimeNow());
  clock.AdvanceTime(absl::Seconds(20));  // 2, 4, 8 and 16 were missed
  EXPECT_TRUE(schedule.Due(clock.TimeNow()));
  EXPECT_FALSE(schedule.Due(clock.TimeNow()));
  EXPECT_EQ(schedule.next() - clock.TimeNow(), absl::Seconds(12)) << "the 32 s line";
}

TEST(WaitScheduleTest, NextTellsTheWaiterWhenToWakeUp) {
  const absl::Time t0 = absl::FromUnixSeconds(100);
  WaitSchedule schedule(t0, absl::Seconds(1), absl::Seconds(3));
  EXPECT_EQ(schedule.next(), t0 + absl::Seconds(1));
  EXPECT_FALSE(schedule.Due(t0 + absl::Milliseconds(999)));
  EXPECT_TRUE(schedule.Due(t0 + absl::Seconds(1)));
  EXPECT_EQ(schedule.next(), t0 + absl::Seconds(2));
  EXPECT_TRUE(schedule.Due(t0 + absl::Seconds(2)));
  EXPECT_EQ(schedule.next(), t0 + absl::Seconds(4));
  EXPECT_TRUE(schedule.Due(t0 + absl::Seconds(4)));
  EXPECT_EQ(schedule.next(), t0 + absl::Seconds(7)) << "capped at 3 s";
}

TEST(WaitReporterTest, ReportsAtTwoSecondsAndStopsWhenDestroyed) {
  absl::Mutex mu;
  std::vector<absl::Duration> reports;
  {
    WaitReporter reporter([&](absl::Duration waited) {
      absl::MutexLock lock(&mu);
      reports.push_back(waited);
    });
    absl::SleepFor(absl::Milliseconds(2500));
  }
  absl::SleepFor(absl::Milliseconds(1800));  // past 4 s: nothing after the destructor
  absl::MutexLock lock(&mu);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_GE(reports[0], absl::Seconds(2));
  EXPECT_LT(reports[0], absl::Milliseconds(2500));
}

TEST(WaitReporterTest, AShortWaitReportsNothing) {  // negative control of the above
  int reports = 0;
  {
    WaitReporter reporter([&](absl::Duration) { ++reports; });
  }
  EXPECT_EQ(reports, 0);
}

}  // namespace
}  // namespace fabric
