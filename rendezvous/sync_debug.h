// Process-wide switch for absl::Mutex's debug-only checks.
//
// Debian's absl (and the gRPC built on it, whose grpc_core::Mutex is an absl::Mutex) is
// compiled without NDEBUG, so every Lock() of every mutex runs absl's deadlock detector:
// it records the lock in a global graph guarded by one global spin lock. Profiling the
// rendezvous server under 16,000 joins showed this detector (GraphCycles::GetId and the
// contention on its lock) among the top costs of both the server and its clients. Binaries
// that care about speed (fabric-rendezvous, fabric-run, the benchmarks) call this once
// at the start of main(); tests keep the detector on.
//
// Thread safety: call before starting threads (it flips a process-global atomic).
#ifndef FABRIC_RENDEZVOUS_SYNC_DEBUG_H_
#define FABRIC_RENDEZVOUS_SYNC_DEBUG_H_

namespace fabric {
namespace rendezvous {

// Turns absl's mutex deadlock detection off for the whole process (a debugging aid with
// a global lock; lock-order bugs are still caught by the tests, which leave it on).
void DisableMutexDeadlockDetection();

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_SYNC_DEBUG_H_
