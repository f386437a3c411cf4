// Clock: the single source of time for all logic (mirrors absl::Clock, which
// Debian's abseil lacks). Logic takes a Clock*; tests pass a FakeClock.
//
// Thread safety: implementations are safe to call from any thread.
#ifndef FABRIC_COMMON_CLOCK_H_
#define FABRIC_COMMON_CLOCK_H_

#include "absl/time/time.h"

namespace fabric {

class Clock {
 public:
  virtual ~Clock() = default;

  // The current time.
  virtual absl::Time TimeNow() = 0;

  // Blocks the caller for `d` (no-op for d <= 0). A FakeClock returns once
  // AdvanceTime() has moved past the wake-up time.
  virtual void SleepFor(absl::Duration d) = 0;

  // A process-wide real-time clock. Never null, never deleted.
  static Clock* RealClock();
};

}  // namespace fabric

#endif  // FABRIC_COMMON_CLOCK_H_
