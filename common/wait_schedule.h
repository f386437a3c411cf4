// WaitSchedule: when fabric-run says again that it is still waiting (for nodes to join,
// for a server to listen). The first line is due `first` (2 s) after the wait began;
// after that each gap is as long as the wait so far, at most `cap` (60 s): lines at
// 2, 4, 8, 16, 32, 64 s, then every 60 s (124, 184, ...). A wait that ends within 2 s
// prints nothing. Pure: the caller passes the time in (a Clock's, a FakeClock's in tests).
//
// Thread safety: none; one waiter owns one schedule.
#ifndef FABRIC_COMMON_WAIT_SCHEDULE_H_
#define FABRIC_COMMON_WAIT_SCHEDULE_H_

#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fabric {

class WaitSchedule {
 public:
  // REQUIRES: first > 0, cap >= first.
  explicit WaitSchedule(absl::Time start, absl::Duration first = absl::Seconds(2),
                        absl::Duration cap = absl::Seconds(60));

  // When the next line is due, and when the wait began.
  absl::Time next() const { return next_; }
  absl::Time start() const { return start_; }

  // True when a line is due at `now` (now >= next()); then schedules the next one after
  // `now`. Lines missed while the caller was busy are not made up: one line, not a burst.
  bool Due(absl::Time now);

 private:
  absl::Time start_;
  absl::Duration cap_;
  absl::Time next_;
};

// WaitReporter: while one blocking call runs (a rendezvous join), a thread of its own
// calls `report(waited)` on a WaitSchedule from the reporter's construction, in real
// time. The destructor stops it and waits for a report in progress. `report` runs on
// the reporter's thread: it must be safe to call alongside the blocking call.
class WaitReporter {
 public:
  explicit WaitReporter(std::function<void(absl::Duration waited)> report);
  ~WaitReporter();
  WaitReporter(const WaitReporter&) = delete;
  WaitReporter& operator=(const WaitReporter&) = delete;

 private:
  void Loop(const std::function<void(absl::Duration)>& report);

  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace fabric

#endif  // FABRIC_COMMON_WAIT_SCHEDULE_H_
