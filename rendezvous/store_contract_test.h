// The Store contract, as one parameterized suite: every Store implementation must pass
// it (in-memory, prefixed, gRPC, gRPC over a lossy transport). Instantiate with
//   INSTANTIATE_TEST_SUITE_P(Name, StoreContractTest, ::testing::Values(factory, ...),
//                            StoreContractTest::ParamName);
#ifndef FABRIC_RENDEZVOUS_STORE_CONTRACT_TEST_H_
#define FABRIC_RENDEZVOUS_STORE_CONTRACT_TEST_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rendezvous/store.h"

namespace fabric {
namespace rendezvous {

// Owns whatever a store under test needs (server, base store) and exposes the store.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual Store* store() = 0;
};

struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};

class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 public:
  static std::string ParamName(const ::testing::TestParamInfo<StoreFactory>& info) {
    return info.param.name;
  }

 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_NE(harness_, nullptr);
    store_ = harness_->store();
  }
  static absl::Time In(absl::Duration d) { return absl::Now() + d; }

  std::unique_ptr<StoreHarness> harness_;
  Store* store_ = nullptr;
};

using ::testing::HasSubstr;

TEST_P(StoreContractTest, SetThenGetReturnsValue) {
  ASSERT_THAT(store_->Set("k", "v1"), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string v, store_->Get("k", In(absl::Seconds(10))));
  EXPECT_EQ(v, "v1");
  ASSERT_THAT(store_->Set("k", "v2"), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(v, store_->Get("k", In(absl::Seconds(10))));
  EXPECT_EQ(v, "v2");
}

TEST_P(StoreContractTest, ValuesAreBinarySafe) {
  const std::string value("a\0b\xff", 4);
  ASSERT_THAT(store_->Set("bin", value), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string v, store_->Get("bin", In(absl::Seconds(10))));
  EXPECT_EQ(v, value);
}

TEST_P(StoreContractTest, GetWaitsForALaterSet) {
  std::thread setter([this] {
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_THAT(store_->Set("late", "here"), IsOk());
  });
  absl::StatusOr<std::string> v = store_->Get("late", In(absl::Seconds(20)));
  setter.join();
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "here");
}

TEST_P(StoreContractTest, GetTimesOutNamingTheKey) {
  EXPECT_THAT(store_->Get("never-set", In(absl::Milliseconds(100))),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("never-set")));
}

TEST_P(StoreContractTest, AddStartsAtZeroAndAccumulates) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t v, store_->Add("ctr", 5));
  EXPECT_EQ(v, 5);
  FABRIC_ASSERT_OK_AND_ASSIGN(v, store_->Add("ctr", -2));
  EXPECT_EQ(v, 3);
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string s, store_->Get("ctr", In(absl::Seconds(10))));
  EXPECT_EQ(s, "3");
}

TEST_P(StoreContractTest, ConcurrentAddsAreAppliedExactlyOnce) {
  constexpr int kThreads = 8, kAdds = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kAdds; ++i) EXPECT_THAT(store_->Add("many", 1), IsOk());
    });
  }
  for (auto& t : threads) t.join();
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t v, store_->Add("many", 0));
  EXPECT_EQ(v, kThreads * kAdds);
}

TEST_P(StoreContractTest, AddOnNonIntegerIsInvalidArgument) {
  ASSERT_THAT(store_->Set("text", "hello"), IsOk());
  EXPECT_THAT(store_->Add("text", 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text")));
}

TEST_P(StoreContractTest, CompareSetSwapsOnlyOnMatch) {
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string v, store_->CompareSet("cas", "", "first"));
  EXPECT_EQ(v, "first") << "absent key matches an empty expected value";
  FABRIC_ASSERT_OK_AND_ASSIGN(v, store_->CompareSet("cas", "wrong", "second"));
  EXPECT_EQ(v, "first");
  FABRIC_ASSERT_OK_AND_ASSIGN(v, store_->CompareSet("cas", "first", "second"));
  EXPECT_EQ(v, "second");
  FABRIC_ASSERT_OK_AND_ASSIGN(v, store_->CompareSet("absent", "x", "y"));
  EXPECT_EQ(v, "") << "absent key does not match a non-empty expected value";
}

TEST_P(StoreContractTest, WaitReturnsWhenEveryKeyExists) {
  ASSERT_THAT(store_->Set("w1", "1"), IsOk());
  std::thread setter([this] {
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_THAT(store_->Set("w2", "2"), IsOk());
  });
  EXPECT_THAT(store_->Wait({"w1", "w2"}, In(absl::Seconds(20))), IsOk());
  setter.join();
}

TEST_P(StoreContractTest, WaitTimesOutNamingMissingKeys) {
  ASSERT_THAT(store_->Set("have", "1"), IsOk());
  EXPECT_THAT(store_->Wait({"have", "miss-a", "miss-b"}, In(absl::Milliseconds(100))),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("1 present"), HasSubstr("miss-a"), HasSubstr("miss-b"))));
}

TEST_P(StoreContractTest, DeleteReportsWhetherKeyExisted) {
  ASSERT_THAT(store_->Set("gone", "1"), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(bool deleted, store_->Delete("gone"));
  EXPECT_TRUE(deleted);
  FABRIC_ASSERT_OK_AND_ASSIGN(deleted, store_->Delete("gone"));
  EXPECT_FALSE(deleted);
  EXPECT_THAT(store_->Get("gone", In(absl::Milliseconds(50))),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("gone")));
}

TEST_P(StoreContractTest, BarrierOfEightParties) {
  constexpr int kParties = 8;
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kParties; ++t) {
    threads.emplace_back([&] {
      absl::StatusOr<int64_t> n = store_->Add("barrier/arrived", 1);
      ASSERT_THAT(n, IsOk());
      if (*n == kParties) {
        ASSERT_THAT(store_->Set("barrier/done", "1"), IsOk());
      }
      ASSERT_THAT(store_->Wait({"barrier/done"}, In(absl::Seconds(30))), IsOk());
      passed.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), kParties);
}

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_STORE_CONTRACT_TEST_H_
