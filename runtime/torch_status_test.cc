#include "runtime/torch_status.h"

#include <stdexcept>

#include "ATen/ATen.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TorchCallTest, ShapeErrorBecomesStatusWithRankAndOperation) {
  absl::StatusOr<at::Tensor> r = TorchCall(3, "matmul", [] {
    return at::matmul(at::ones({2, 3}), at::ones({4, 5}));
  });
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), AllOf(HasSubstr("rank 3: matmul: "), HasSubstr("shapes")));
  // LibTorch's C++ backtrace is dropped.
  EXPECT_THAT(r.status().message(), Not(HasSubstr("frame #")));
}

TEST(TorchCallTest, IndexErrorIsInvalidArgument) {
  absl::Status s = TorchCall(0, "select", [] { at::ones({2}).select(0, 5); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rank 0: select")));
}

TEST(TorchCallTest, StdExceptionIsInternal) {
  absl::Status s = TorchCall(1, "op", []() -> void { throw std::runtime_error("boom"); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("rank 1: op: boom")));
}

TEST(TorchCallTest, TimeoutIsDeadlineExceeded) {
  absl::Status s =
      TorchCall(2, "allreduce", []() -> void { throw std::runtime_error("Timed out waiting"); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("rank 2")));
}

TEST(TorchCallTest, DistNetworkErrorIsUnavailable) {
  absl::Status s = TorchCall(1, "connect to the store", []() -> void {
    C10_THROW_ERROR(DistNetworkError, "failed to connect to 10.0.0.1:29500");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable,
                          HasSubstr("rank 1: connect to the store: failed to connect")));
}

TEST(TorchCallTest, DistStoreTimeoutIsDeadlineExceeded) {
  absl::Status s = TorchCall(0, "store wait", []() -> void {
    C10_THROW_ERROR(DistStoreError, "wait timeout after 1000ms, keys: /key");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("keys: /key")));
}

TEST(TorchCallTest, DistBackendErrorIsAborted) {
  absl::Status s = TorchCall(
      2, "allreduce", []() -> void { C10_THROW_ERROR(DistBackendError, "process group aborted"); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, HasSubstr("rank 2: allreduce")));
}

TEST(TorchCallTest, OutOfMemoryIsResourceExhausted) {
  absl::Status s = TorchCall(0, "forward", []() -> void {
    C10_THROW_ERROR(OutOfMemoryError, "CUDA out of memory. Tried to allocate 2.00 GiB");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("out of memory")));
}

TEST(TorchCallTest, MultiLineMessageBecomesOneLine) {
  absl::Status s =
      TorchCall(0, "op", []() -> void { throw std::runtime_error("first\nsecond\n"); });
  EXPECT_EQ(s.message(), "rank 0: op: first second");
}

TEST(TorchCallTest, ValuesAndStatusesPassThrough) {
  EXPECT_EQ(TorchCall(0, "x", [] { return 7; }).value_or(0), 7);
  EXPECT_THAT(TorchCall(0, "x", [] { return absl::NotFoundError("nf"); }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nf")));
  absl::StatusOr<int> nested = TorchCall(0, "x", []() -> absl::StatusOr<int> { return 4; });
  EXPECT_EQ(nested.value_or(0), 4);
}

}  // namespace
}  // namespace fabric::runtime
