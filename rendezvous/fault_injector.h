// FaultInjector: decides, call by call, whether an RPC is lost, and how:
// the request never arrives (kDropRequest: nothing happens on the server) or the
// server applies it and the response is lost (kDropResponse). Both surface to the
// caller as UNAVAILABLE, which is what a real lost packet / broken connection gives.
// Used, as an optional hook, by the gRPC client (RendezvousClient), whose retries (with the same request id) must then make the call take effect exactly once.
//
// Thread safety: all methods may be called concurrently.
#ifndef FABRIC_RENDEZVOUS_FAULT_INJECTOR_H_
#define FABRIC_RENDEZVOUS_FAULT_INJECTOR_H_

#include <cstdint>

#include "absl/synchronization/mutex.h"

namespace fabric {
namespace rendezvous {

enum class FaultMode { kNone, kDropRequest, kDropResponse };

class FaultInjector {
 public:
  FaultInjector() = default;
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // Only call number `n` (1-based, counted from now) fails with `mode`.
  void FailNth(int64_t n, FaultMode mode) {
    absl::MutexLock lock(&mu_);
    nth_ = calls_ + n;
    every_ = 0;
    mode_ = mode;
  }
  // Every `k`-th call (k >= 2 keeps progress possible) fails with `mode`.
  void FailEvery(int64_t k, FaultMode mode) {
    absl::MutexLock lock(&mu_);
    every_ = k;
    nth_ = 0;
    mode_ = mode;
  }
  void Clear() { FailNth(0, FaultMode::kNone); }

  // Counts one call and returns what to do with it.
  FaultMode Next() {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if ((nth_ > 0 && calls_ == nth_) || (every_ > 0 && calls_ % every_ == 0)) {
      ++injected_;
      return mode_;
    }
    return FaultMode::kNone;
  }

  int64_t calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int64_t injected() {
    absl::MutexLock lock(&mu_);
    return injected_;
  }

 private:
  absl::Mutex mu_;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t injected_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t nth_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t every_ ABSL_GUARDED_BY(mu_) = 0;
  FaultMode mode_ ABSL_GUARDED_BY(mu_) = FaultMode::kNone;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_FAULT_INJECTOR_H_
