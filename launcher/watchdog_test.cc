#include "launcher/watchdog.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(FileTimerRequestTest, ParsesWhatFileTimerClientWrites) {
  // json.dumps of torch 2.11's FileTimerRequest.to_json().
  FABRIC_ASSERT_OK_AND_ASSIGN(
      FileTimerRequest r,
      ParseFileTimerRequest(R"({"version": 1, "pid": 4242, "scope_id": "step \"7\"", )"
                            R"("expiration_time": 1700000002.5, "signal": 9})"));
  EXPECT_EQ(r.pid, 4242);
  EXPECT_EQ(r.scope_id, "step \"7\"");
  EXPECT_DOUBLE_EQ(r.expiration_time, 1700000002.5);
  EXPECT_EQ(r.signal, 9);
  FABRIC_ASSERT_OK_AND_ASSIGN(
      FileTimerRequest release,
      ParseFileTimerRequest(
          R"({"version": 1, "pid": 4242, "scope_id": "s", "expiration_time": -1, "signal": 0})"));
  EXPECT_LT(release.expiration_time, 0);
}

TEST(FileTimerRequestTest, RefusesWhatItCannotRead) {
  for (const char* bad :
       {"", "not json", "{",
        R"({"version": 2, "pid": 1, "scope_id": "s", "expiration_time": 1, "signal": 9})",
        R"({"version": 1, "scope_id": "s", "expiration_time": 1, "signal": 9})",
        R"({"version": 1, "pid": -3, "scope_id": "s", "expiration_time": 1, "signal": 9})",
        R"({"version": 1, "pid": 1, "scope_id": {"a": 1}, "expiration_time": 1, "signal": 9})",
        R"({"version": 1, "pid": 1, "scope_id": "s", "expiration_time": 1, "signal": 9} x)"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseFileTimerRequest(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("file-timer request")));
  }
}

FileTimerRequest Acquire(pid_t pid, const char* scope, absl::Time expires, int sig = 9) {
  return FileTimerRequest{pid, scope, absl::ToDoubleSeconds(expires - absl::UnixEpoch()), sig};
}

TEST(WatchdogTest, AnUnreleasedTimerExpiresOnce) {
  Watchdog w(absl::ZeroDuration(), {100, 101}, kT0);
  EXPECT_TRUE(w.OnTimerRequest(Acquire(101, "step", kT0 + absl::Seconds(2)), kT0));
  EXPECT_FALSE(w.OnTimerRequest(Acquire(999, "other job", kT0 + absl::Seconds(1)), kT0));
  EXPECT_EQ(w.NextCheck(kT0), kT0 + absl::Seconds(2));
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(1)), IsEmpty());
  std::vector<Hang> hung = w.Expired(kT0 + absl::Seconds(2));
  ASSERT_THAT(hung, SizeIs(1));
  EXPECT_EQ(hung[0].local_rank, 1);
  EXPECT_EQ(hung[0].pid, 101);
  EXPECT_EQ(hung[0].signal, 9);
  EXPECT_THAT(hung[0].reason, HasSubstr("timer 'step' expired (set for 2s"));
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(3)), IsEmpty());  // reported once
}

TEST(WatchdogTest, AReleasedTimerDoesNotExpire) {
  Watchdog w(absl::ZeroDuration(), {100}, kT0);
  w.OnTimerRequest(Acquire(100, "step", kT0 + absl::Seconds(2)), kT0);
  w.OnTimerRequest(FileTimerRequest{100, "step", -1, 0}, kT0 + absl::Seconds(1));
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(5)), IsEmpty());
  EXPECT_FALSE(w.NextCheck(kT0).has_value());
}

TEST(WatchdogTest, ATimerWithoutASignalDoesNotReap) {  // torch's FileTimerServer rule
  Watchdog w(absl::ZeroDuration(), {100}, kT0);
  w.OnTimerRequest(Acquire(100, "soft", kT0 + absl::Seconds(1), 0), kT0);
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(2)), IsEmpty());
}

TEST(WatchdogTest, HeartbeatsThatStopAreAHangAndNeverBeatingIsNot) {
  Watchdog w(absl::Seconds(10), {100, 101, 102}, kT0);
  EXPECT_EQ(w.SamplePeriod(), absl::Seconds(1));
  w.OnHeartbeat(0, 1, kT0);  // rank 0 beats, then stops
  w.OnHeartbeat(1, 1, kT0);  // rank 1 keeps beating
  for (int s = 1; s <= 12; ++s) w.OnHeartbeat(1, 1 + s, kT0 + absl::Seconds(s));
  // rank 2 never beats (it does not use heartbeats)
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(9)), IsEmpty());
  std::vector<Hang> hung = w.Expired(kT0 + absl::Seconds(12));
  ASSERT_THAT(hung, SizeIs(1));
  EXPECT_EQ(hung[0].local_rank, 0);
  EXPECT_THAT(hung[0].reason, HasSubstr("no heartbeat for 12s (--hang-timeout 10s)"));
}

TEST(WatchdogTest, AnExitedWorkerIsForgotten) {
  Watchdog w(absl::Seconds(2), {100}, kT0);
  w.OnHeartbeat(0, 5, kT0);
  w.OnTimerRequest(Acquire(100, "s", kT0 + absl::Seconds(1)), kT0);
  w.Forget(0);
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(60)), IsEmpty());
}

TEST(WatchdogTest, AReplacedWorkerIsWatchedAgainUnderItsNewPid) {
  Watchdog w(absl::Seconds(2), {100, 101}, kT0);
  w.OnHeartbeat(1, 5, kT0);
  w.Forget(1);  // it exited
  w.Replace(1, 200);
  EXPECT_FALSE(w.OnTimerRequest(Acquire(101, "s", kT0 + absl::Seconds(90)), kT0)) << "old pid";
  EXPECT_TRUE(w.OnTimerRequest(FileTimerRequest{200, "s", -1, 9}, kT0));  // a release
  EXPECT_THAT(w.Expired(kT0 + absl::Seconds(60)), IsEmpty()) << "not before its first beat";
  w.OnHeartbeat(1, 6, kT0 + absl::Seconds(61));  // the same file, one more beat
  std::vector<Hang> hung = w.Expired(kT0 + absl::Seconds(64));
  ASSERT_THAT(hung, SizeIs(1));
  EXPECT_EQ(hung[0].pid, 200);
}

}  // namespace
}  // namespace fabric::launcher
