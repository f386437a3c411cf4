#include "runtime/torch_status.h"

#include <stdexcept>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ATen/ATen.h"

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

TEST(TorchCallTest, ValuesAndStatusesPassThrough) {
  EXPECT_EQ(TorchCall(0, "x", [] { return 7; }).value_or(0), 7);
  EXPECT_THAT(TorchCall(0, "x", [] { return absl::NotFoundError("nf"); }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nf")));
  absl::StatusOr<int> nested = TorchCall(0, "x", []() -> absl::StatusOr<int> { return 4; });
  EXPECT_EQ(nested.value_or(0), 4);
}

}  // namespace
}  // namespace fabric::runtime
