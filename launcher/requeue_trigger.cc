#include "launcher/requeue_trigger.h"

namespace fabric::launcher {

bool RequeueTrigger::OnSignal(int sig, absl::Time now) {
  if (signal_ == 0 || sig != signal_ || deadline_.has_value()) return false;
  deadline_ = now + grace_;
  return true;
}

bool RequeueTrigger::StopDue(absl::Time now) {
  if (!deadline_.has_value() || stop_done_ || now < *deadline_) return false;
  stop_done_ = true;
  return true;
}

}  // namespace fabric::launcher
