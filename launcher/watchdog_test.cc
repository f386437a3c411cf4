#include "launcher/watchdog.h"

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

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

constexpr char kGood[] =
    R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": 5.5, "signal": 9})";

TEST(FileTimerRequestTest, ANegativeControlLineParses) {  // the edits below break only it
  FABRIC_ASSERT_OK_AND_ASSIGN(FileTimerRequest r, ParseFileTimerRequest(kGood));
  EXPECT_EQ(r.pid, 7);
}

TEST(FileTimerRequestTest, RefusesMembersOfTheWrongType) {
  for (const char* bad : {
           R"({"version": "1", "pid": 7, "scope_id": "s", "expiration_time": 5.5, "signal": 9})",
           R"({"version": 1, "pid": true, "scope_id": "s", "expiration_time": 5.5, "signal": 9})",
           R"({"version": 1, "pid": "7", "scope_id": "s", "expiration_time": 5.5, "signal": 9})",
           R"({"version": 1, "pid": 7, "scope_id": 3, "expiration_time": 5.5, "signal": 9})",
           R"({"version": 1, "pid": 7, "scope_id": null, "expiration_time": 5.5, "signal": 9})",
           R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": [1], "signal": 9})",
           R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": 5.5, "signal": "9"})",
           R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": 5.5, "signal": 9.5})",
           R"({"version": 1, "pid": 7.5, "scope_id": "s", "expiration_time": 5.5, "signal": 9})",
       }) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseFileTimerRequest(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("file-timer request")));
  }
}

TEST(FileTimerRequestTest, RefusesEachMissingMember) {
  for (const char* key : {"version", "pid", "scope_id", "expiration_time", "signal"}) {
    SCOPED_TRACE(key);
    nlohmann::json j = nlohmann::json::parse(kGood);
    j.erase(key);
    EXPECT_THAT(ParseFileTimerRequest(j.dump()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(key)));
  }
}

TEST(FileTimerRequestTest, RefusesHugeAndOverflowingNumbers) {
  for (
      const char* bad : {
          R"({"version": 1, "pid": 1e20, "scope_id": "s", "expiration_time": 5, "signal": 9})",
          R"({"version": 1, "pid": 18446744073709551616, "scope_id": "s", "expiration_time": 5, "signal": 9})",
          R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": 1e400, "signal": 9})",
          R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": 5, "signal": -1e300})",
          R"({"version": 1, "pid": 7, "scope_id": "s", "expiration_time": 5, "signal": 99999999999})",
          R"({"version": 1e300, "pid": 7, "scope_id": "s", "expiration_time": 5, "signal": 9})",
      }) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseFileTimerRequest(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("file-timer request")));
  }
}

TEST(FileTimerRequestTest, RefusesNonObjectsAndNestedGarbage) {
  const std::string deep = std::string(50000, '[') + std::string(50000, ']');
  const std::string deep_open = std::string(60000, '{');
  // A raw NUL inside a string (JSON requires it escaped).
  constexpr char kNul[] =
      "{\"version\": 1, \"pid\": 7, \"scope_id\": \"s\0\", \"expiration_time\": 1, \"signal\": 9}";
  const std::string with_nul(kNul, sizeof(kNul) - 1);
  for (const std::string& bad :
       {std::string("[1, 2]"), std::string("7"), std::string("\"s\""), std::string("null"),
        std::string(R"({"version": 1, "pid": 7} {"version": 1})"), std::string("{\"a\": \xff}"),
        with_nul, deep, deep_open, absl::StrCat(R"({"nested": )", deep, "}")}) {
    EXPECT_THAT(ParseFileTimerRequest(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("file-timer request")));
  }
}

TEST(FileTimerRequestTest, IgnoresExtraMembersAndDecodesEscapes) {
  FABRIC_ASSERT_OK_AND_ASSIGN(
      FileTimerRequest r,
      ParseFileTimerRequest(R"({"extra": {"deep": [1, {"x": null}]}, "version": 1.0, )"
                            R"("pid": 7, "scope_id": "caf\u00e9 \ud83d\ude00 \\n", )"
                            R"("expiration_time": -1, "signal": 0, "pid_note": "x"})"));
  EXPECT_EQ(r.pid, 7);
  EXPECT_EQ(r.scope_id, "caf\xc3\xa9 \xf0\x9f\x98\x80 \\n");
  EXPECT_LT(r.expiration_time, 0);
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
