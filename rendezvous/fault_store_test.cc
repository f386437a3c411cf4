#include "rendezvous/fault_store.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rendezvous/memory_store.h"
#include "rendezvous/prefix_store.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::HasSubstr;

TEST(FaultInjectingStoreTest, DroppedRequestIsNotApplied) {
  InMemoryStore base;
  FaultInjector faults;
  FaultInjectingStore store(&base, &faults);
  faults.FailNth(1, FaultMode::kDropRequest);
  EXPECT_THAT(store.Add("n", 1),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("request lost")));
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t v, base.Add("n", 0));
  EXPECT_EQ(v, 0);
}

TEST(FaultInjectingStoreTest, DroppedResponseIsAppliedButReportedLost) {
  InMemoryStore base;
  FaultInjector faults;
  FaultInjectingStore store(&base, &faults);
  faults.FailNth(1, FaultMode::kDropResponse);
  EXPECT_THAT(store.Add("n", 1),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("response lost")));
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t v, base.Add("n", 0));
  EXPECT_EQ(v, 1) << "the base applied the call";
}

TEST(FaultInjectingStoreTest, OnlyTheNthCallFails) {
  InMemoryStore base;
  FaultInjector faults;
  FaultInjectingStore store(&base, &faults);
  faults.FailNth(3, FaultMode::kDropRequest);
  EXPECT_THAT(store.Set("a", "1"), IsOk());
  EXPECT_THAT(store.Set("b", "1"), IsOk());
  EXPECT_THAT(store.Set("c", "1"), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("set c")));
  EXPECT_THAT(store.Set("d", "1"), IsOk());
  EXPECT_EQ(faults.injected(), 1);
}

TEST(PrefixStoreTest, NamespacesKeysByRunAndRound) {
  InMemoryStore base;
  PrefixStore r1(PrefixStore::RoundPrefix("job", 1), &base);
  PrefixStore r2(PrefixStore::RoundPrefix("job", 2), &base);
  ASSERT_THAT(r1.Set("addr", "one"), IsOk());
  ASSERT_THAT(r2.Set("addr", "two"), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string v,
                              base.Get("run/job/round/1/addr", absl::Now() + absl::Seconds(1)));
  EXPECT_EQ(v, "one");
  EXPECT_THAT(r2.Wait({"missing"}, absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("run/job/round/2/missing")));
}

TEST(InMemoryStoreTest, WatchAsyncFiresOnSetAndExpires) {
  InMemoryStore store;
  absl::StatusOr<std::vector<std::string>> got = absl::UnknownError("not fired");
  const absl::Time now = absl::Now();
  store.WatchAsync({"a", "b"}, now, now + absl::Hours(1),
                   [&](absl::StatusOr<std::vector<std::string>> v) { got = std::move(v); });
  ASSERT_THAT(store.Set("b", "B"), IsOk());
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kUnknown, HasSubstr("not fired")));
  ASSERT_THAT(store.Set("a", "A"), IsOk());
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(*got, ::testing::ElementsAre("A", "B"));

  absl::StatusOr<std::vector<std::string>> expired = absl::UnknownError("not fired");
  store.WatchAsync({"x"}, now, now + absl::Seconds(1),
                   [&](absl::StatusOr<std::vector<std::string>> v) { expired = std::move(v); });
  store.ExpireWatches(now + absl::Milliseconds(500));
  EXPECT_THAT(expired, StatusIs(absl::StatusCode::kUnknown, HasSubstr("not fired")));
  store.ExpireWatches(now + absl::Seconds(1));
  EXPECT_THAT(expired, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("missing: x")));
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
