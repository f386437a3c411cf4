#include "rendezvous/sync_debug.h"

#include "absl/synchronization/mutex.h"

namespace fabric {
namespace rendezvous {

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace rendezvous
}  // namespace fabric
