// Client-side RPC plumbing of RendezvousClient: retries with
// backoff on UNAVAILABLE (the request id stays the same, so the server applies a
// mutating call once), token metadata, fault injection, request ids.
//
// Thread safety: the functions are thread-safe.
#ifndef FABRIC_RENDEZVOUS_RPC_UTIL_H_
#define FABRIC_RENDEZVOUS_RPC_UTIL_H_

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "grpcpp/client_context.h"
#include "rendezvous/fault_injector.h"
#include "rendezvous/server_util.h"

namespace fabric {
namespace rendezvous {

// A process-unique id for one logical call ("<random hex>-<counter>").
std::string NewRequestId();

struct RetryPolicy {
  absl::Time deadline = absl::InfiniteFuture();  // give up retrying after this
  // Per-attempt gRPC deadline is min(deadline, now + attempt_timeout) + slack.
  absl::Duration attempt_timeout = absl::Seconds(10);
  absl::Duration slack = absl::ZeroDuration();
  std::string token;
  FaultInjector* faults = nullptr;
};

// Runs `rpc(grpc::ClientContext*) -> grpc::Status` until it returns anything but
// UNAVAILABLE or the policy's deadline passes. A fault injected as kDropRequest skips
// the attempt; kDropResponse discards its outcome. Returns the last status, prefixed
// with `what` when it is UNAVAILABLE after the deadline. An attempt that ends in
// DEADLINE_EXCEEDED after an earlier one was UNAVAILABLE, once the policy's deadline has
// passed, was cut short by this retry deadline while gRPC was still reconnecting to a
// server it could not reach: that is reported as the UNAVAILABLE it is.
template <typename Fn>
absl::Status CallWithRetry(const std::string& what, const RetryPolicy& policy, Fn rpc) {
  absl::Duration backoff = absl::Milliseconds(5);
  int attempts = 0;
  absl::Status unavailable;  // the last UNAVAILABLE seen
  while (true) {
    ++attempts;
    absl::Status s;
    const FaultMode fault = policy.faults ? policy.faults->Next() : FaultMode::kNone;
    if (fault == FaultMode::kDropRequest) {
      s = absl::UnavailableError("injected fault: request lost");
    } else {
      grpc::ClientContext ctx;
      if (!policy.token.empty()) ctx.AddMetadata(kTokenMetadataKey, policy.token);
      const absl::Time attempt_deadline =
          std::min(policy.deadline, absl::Now() + policy.attempt_timeout) + policy.slack;
      if (attempt_deadline != absl::InfiniteFuture()) {
        ctx.set_deadline(absl::ToChronoTime(attempt_deadline));
      }
      s = FromGrpcStatus(rpc(&ctx));
      if (fault == FaultMode::kDropResponse) {
        s = absl::UnavailableError("injected fault: response lost");
      }
    }
    if (s.code() == absl::StatusCode::kDeadlineExceeded && !unavailable.ok() &&
        absl::Now() >= policy.deadline) {
      s = unavailable;
    } else if (s.code() != absl::StatusCode::kUnavailable) {
      return s;
    }
    unavailable = s;
    if (absl::Now() + backoff >= policy.deadline) {
      return absl::UnavailableError(
          absl::StrCat(what, ": gave up after ", attempts, " attempt(s): ", s.message()));
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
}

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_RPC_UTIL_H_
