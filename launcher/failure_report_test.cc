#include "launcher/failure_report.h"

#include <signal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

FailureReportInput Base() {
  FailureReportInput in;
  in.run_id = "run1";
  in.global_rank = 3;
  in.local_rank = 3;
  in.pid = 77;
  in.status = ExitStatus::Exited(2);
  in.stderr_tail = {"Traceback (most recent call last):", "ValueError: boom"};
  return in;
}

TEST(FailureReportTest, NamesRankAndExitCode) {
  std::string r = FormatFailureReport(Base());
  EXPECT_THAT(
      r, HasSubstr("root cause: rank 3 (node 0, local rank 3, pid 77) exited with exit code 2"));
  EXPECT_THAT(r, HasSubstr("| ValueError: boom"));
  EXPECT_THAT(r, Not(HasSubstr("OOM")));
}

TEST(FailureReportTest, HeaderCountsAttempts) {
  FailureReportInput in = Base();
  in.restart_count = 1;
  in.max_restarts = 2;
  EXPECT_THAT(
      FormatFailureReport(in),
      HasSubstr(
          "worker failure in run run1, attempt 2 of at most 3 (TORCHELASTIC_RESTART_COUNT=1)\n"));
}

TEST(FailureReportTest, ListsHowTheOtherRanksEnded) {
  FailureReportInput in = Base();
  in.others = {{0, ExitStatus::Signaled(SIGTERM), SIGTERM}, {1, ExitStatus::Exited(0), 0}};
  EXPECT_THAT(
      FormatFailureReport(in),
      HasSubstr("other ranks: rank 0 signal SIGTERM (15) after our SIGTERM; rank 1 exit code 0\n"));
}

TEST(FailureReportTest, NamesTheSignal) {
  FailureReportInput in = Base();
  in.status = ExitStatus::Signaled(SIGSEGV);
  EXPECT_THAT(FormatFailureReport(in), HasSubstr("was killed by signal SIGSEGV (11)"));
}

TEST(FailureReportTest, SigkillNotSentByUsHintsAtOom) {
  FailureReportInput in = Base();
  in.status = ExitStatus::Signaled(SIGKILL);
  EXPECT_THAT(FormatFailureReport(in), HasSubstr("OOM killer is the usual cause"));
}

TEST(FailureReportTest, RisingCgroupOomCountIsStated) {
  FailureReportInput in = Base();
  in.status = ExitStatus::Signaled(SIGKILL);
  in.oom_kills_before = 1;
  in.oom_kills_after = 2;
  EXPECT_THAT(
      FormatFailureReport(in),
      HasSubstr(
          "killed by the kernel's OOM killer: the memory cgroup's oom_kill count rose from 1 to 2"));
}

TEST(FailureReportTest, IncludesErrorFileMessage) {
  FailureReportInput in = Base();
  in.error_file_message = "RuntimeError: bad\nsecond line";
  std::string r = FormatFailureReport(in);
  EXPECT_THAT(r, HasSubstr("error file: RuntimeError: bad\nfabric-run:     second line\n"));
}

TEST(FailureReportTest, SaysWhenStderrWasEmpty) {
  FailureReportInput in = Base();
  in.stderr_tail.clear();
  EXPECT_THAT(FormatFailureReport(in), HasSubstr("rank 3 wrote nothing to stderr"));
}

TEST(FailureReportTest, SaysWhetherItRestarts) {
  FailureReportInput in = Base();
  in.restarting = true;
  in.restart_count = 0;
  in.max_restarts = 2;
  EXPECT_THAT(FormatFailureReport(in), HasSubstr("restarting the whole gang (restart 1 of 2)"));
  in.restarting = false;
  EXPECT_THAT(FormatFailureReport(in), HasSubstr("no restarts left"));
}

TEST(ErrorFileTest, ParsesTorchelasticNestedMessage) {
  EXPECT_EQ(
      ParseErrorFileMessage(
          R"({"message": {"message": "ValueError: boom \"x\"\nmore", "extraInfo": {"py_callstack": "tb", "timestamp": "1"}}})"),
      "ValueError: boom \"x\"\nmore");
}

TEST(ErrorFileTest, ParsesFlatMessage) {
  EXPECT_EQ(ParseErrorFileMessage(R"({"message":"plain\u0041"})"), "plainA");
}

TEST(ErrorFileTest, GarbageGivesEmpty) {
  EXPECT_EQ(ParseErrorFileMessage("not json"), "");
  EXPECT_EQ(ParseErrorFileMessage(R"({"message": 3})"), "");
}

TEST(OomCountTest, ParsesMemoryEvents) {
  EXPECT_EQ(ParseOomKillCount("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n"), 2);
  EXPECT_EQ(ParseOomKillCount("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n"), 5);
  EXPECT_EQ(ParseOomKillCount("low 0\n"), std::nullopt);
}

TEST(SignalNameTest, KnownAndUnknown) {
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(40), "SIG40");
}

}  // namespace
}  // namespace fabric::launcher
