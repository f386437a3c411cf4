// Runs without a GPU: what NCCL can do before a communicator exists.
#include "runtime/nccl_comm.h"

#include <map>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::HasSubstr;

KeyValueStore MapStore(std::map<std::string, std::string>* m) {
  KeyValueStore s;
  s.set = [m](const std::string& k, const std::string& v) {
    (*m)[k] = v;
    return absl::OkStatus();
  };
  s.get = [m](const std::string& k, absl::Duration) -> absl::StatusOr<std::string> {
    auto it = m->find(k);
    if (it == m->end()) return absl::DeadlineExceededError("no " + k);
    return it->second;
  };
  return s;
}

TEST(NcclTest, VersionIsTwoDotSomething) {
  EXPECT_THAT(NcclVersionString(), testing::StartsWith("2."));
}

TEST(NcclTest, UniqueIdTravelsFromRankZeroThroughTheStore) {
  std::map<std::string, std::string> m;
  KeyValueStore store = MapStore(&m);
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string id0,
                              ExchangeNcclUniqueId(store, "k", 0, absl::Seconds(1)));
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string id1,
                              ExchangeNcclUniqueId(store, "k", 1, absl::Seconds(1)));
  EXPECT_EQ(id0.size(), static_cast<size_t>(NCCL_UNIQUE_ID_BYTES));
  EXPECT_EQ(id0, id1);
}

TEST(NcclTest, MissingIdTimesOut) {
  std::map<std::string, std::string> m;
  EXPECT_THAT(ExchangeNcclUniqueId(MapStore(&m), "k", 1, absl::Seconds(1)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("k")));
}

TEST(NcclTest, MalformedIdIsRejected) {
  std::map<std::string, std::string> m{{"k", "short"}};
  EXPECT_THAT(ExchangeNcclUniqueId(MapStore(&m), "k", 1, absl::Seconds(1)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5 bytes")));
}

TEST(NcclTest, CreateWithoutDeviceIsFailedPreconditionNotAHang) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is present; see nccl_comm_gpu_test";
  std::map<std::string, std::string> m;
  EXPECT_THAT(NcclComm::Create(MapStore(&m), 0, 1, 0, absl::Seconds(1)).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CUDA device")));
}

}  // namespace
}  // namespace fabric::runtime
