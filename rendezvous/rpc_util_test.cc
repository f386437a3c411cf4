#include "rendezvous/rpc_util.h"

#include "absl/time/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace fabric::rendezvous {
namespace {

using ::testing::HasSubstr;

RetryPolicy ShortPolicy() {
  RetryPolicy p;
  p.deadline = absl::Now() + absl::Milliseconds(100);
  p.attempt_timeout = absl::Milliseconds(100);
  return p;
}

TEST(CallWithRetryTest, RetriesUnavailableThenReturnsWhatComesNext) {
  int calls = 0;
  absl::Status s = CallWithRetry("store set k", ShortPolicy(), [&](grpc::ClientContext*) {
    return ++calls < 3 ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed")
                       : grpc::Status::OK;
  });
  EXPECT_THAT(s, IsOk());
  EXPECT_EQ(calls, 3);
}

TEST(CallWithRetryTest, UnreachableToTheEndIsUnavailableNamingTheCall) {
  absl::Status s = CallWithRetry("store set k", ShortPolicy(), [](grpc::ClientContext*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("store set k: gave up")));
}

// The last attempt, started just before the retry deadline, is cut by that deadline
// while gRPC still reconnects: the server was unreachable, not slow.
TEST(CallWithRetryTest, AnAttemptCutByTheRetryDeadlineAfterUnavailableIsUnavailable) {
  const RetryPolicy p = ShortPolicy();
  int calls = 0;
  absl::Status s = CallWithRetry("store set k", p, [&](grpc::ClientContext*) {
    if (++calls == 1) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed");
    absl::SleepFor(p.deadline - absl::Now() + absl::Milliseconds(5));
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connect failed")));
}

// Negative controls: DEADLINE_EXCEEDED stays what it is when nothing was unavailable
// before, or when it comes before the retry deadline (the server's own answer).
TEST(CallWithRetryTest, DeadlineExceededWithoutUnavailableOrBeforeTheDeadlineStays) {
  absl::Status first = CallWithRetry("store get k", ShortPolicy(), [](grpc::ClientContext*) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "missing keys: k");
  });
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("missing keys")));
  int calls = 0;
  absl::Status early = CallWithRetry("store get k", ShortPolicy(), [&](grpc::ClientContext*) {
    return ++calls == 1 ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed")
                        : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "missing keys: k");
  });
  EXPECT_THAT(early, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("missing keys")));
}

}  // namespace
}  // namespace fabric::rendezvous
