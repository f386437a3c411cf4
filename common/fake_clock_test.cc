#include "common/fake_clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace fabric {
namespace {

TEST(FakeClockTest, AdvanceMovesTime) {
  FakeClock clock;
  absl::Time t0 = clock.TimeNow();
  clock.AdvanceTime(absl::Seconds(5));
  EXPECT_EQ(clock.TimeNow() - t0, absl::Seconds(5));
}

TEST(FakeClockTest, NegativeAdvanceIsIgnored) {
  FakeClock clock;
  absl::Time t0 = clock.TimeNow();
  clock.AdvanceTime(-absl::Seconds(5));
  EXPECT_EQ(clock.TimeNow(), t0);
}

TEST(FakeClockTest, SleepReturnsOnlyAfterAdvancePastWakeTime) {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke = true;
  });
  while (clock.NumSleepers() == 0) std::this_thread::yield();
  clock.AdvanceTime(absl::Seconds(9));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(woke.load());
  clock.AdvanceTime(absl::Seconds(1));
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

}  // namespace
}  // namespace fabric
