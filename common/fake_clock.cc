#include "common/fake_clock.h"

namespace fabric {

absl::Time FakeClock::TimeNow() {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::SleepFor(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  const absl::Time wake = now_ + d;
  ++sleepers_;
  auto due = [this, wake]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return now_ >= wake; };
  mu_.Await(absl::Condition(&due));
  --sleepers_;
}

void FakeClock::AdvanceTime(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  if (d > absl::ZeroDuration()) now_ += d;
}

int FakeClock::NumSleepers() {
  absl::MutexLock lock(&mu_);
  return sleepers_;
}

}  // namespace fabric
