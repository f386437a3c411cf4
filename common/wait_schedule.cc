#include "common/wait_schedule.h"

#include <algorithm>
#include <utility>

namespace fabric {

WaitSchedule::WaitSchedule(absl::Time start, absl::Duration first, absl::Duration cap)
    : start_(start), cap_(cap), next_(start + first) {}

bool WaitSchedule::Due(absl::Time now) {
  if (now < next_) return false;
  while (next_ <= now) next_ += std::min(next_ - start_, cap_);
  return true;
}

WaitReporter::WaitReporter(std::function<void(absl::Duration waited)> report)
    : thread_([this, report = std::move(report)] { Loop(report); }) {}

WaitReporter::~WaitReporter() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  thread_.join();
}

void WaitReporter::Loop(const std::function<void(absl::Duration)>& report) {
  const absl::Time start = absl::Now();
  WaitSchedule schedule(start);
  absl::MutexLock lock(&mu_);
  while (!done_) {
    mu_.AwaitWithDeadline(absl::Condition(&done_), schedule.next());
    if (done_ || !schedule.Due(absl::Now())) continue;
    mu_.Unlock();
    report(absl::Now() - start);
    mu_.Lock();
  }
}

}  // namespace fabric
