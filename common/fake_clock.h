// FakeClock: a manually advanced Clock for tests.
//
// Thread safety: all methods may be called concurrently. SleepFor() blocks until
// another thread advances the time past the sleeper's wake-up time.
#ifndef FABRIC_COMMON_FAKE_CLOCK_H_
#define FABRIC_COMMON_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace fabric {

class FakeClock final : public Clock {
 public:
  // Starts at `start` (an arbitrary fixed instant by default).
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'000'000'000)) : now_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time TimeNow() override;
  void SleepFor(absl::Duration d) override;

  // Moves the time forward by `d` (>= 0) and wakes the sleepers that are due.
  void AdvanceTime(absl::Duration d);

  // Number of threads currently blocked in SleepFor().
  int NumSleepers();

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fabric

#endif  // FABRIC_COMMON_FAKE_CLOCK_H_
