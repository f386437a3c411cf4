#include "common/clock.h"

#include "absl/time/clock.h"

namespace fabric {
namespace {

class RealClockImpl final : public Clock {
 public:
  absl::Time TimeNow() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

}  // namespace

Clock* Clock::RealClock() {
  static Clock* const clock = new RealClockImpl;
  return clock;
}

}  // namespace fabric
