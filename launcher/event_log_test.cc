#include "launcher/event_log.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/fake_clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

TEST(EncodeEventTest, IsTorchelasticsRecordShapeOnOneLine) {
  EventRecord e;
  e.name = "fabric.worker.exit";
  e.timestamp_ms = 1700000000123;
  e.metadata = {{"global_rank", 3},  {"state", "FAILED"}, {"raw_error", "line1\nline2"},
                {"signal", nullptr}, {"duration_s", 1.5}, {"restarting", true}};
  const std::string line = EncodeEvent(e);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // a newline in a value is escaped
  EXPECT_EQ(
      line.rfind(R"({"name":"fabric.worker.exit","source":"AGENT","timestamp":1700000000123,)", 0),
      0u)
      << line;
  FABRIC_ASSERT_OK_AND_ASSIGN(EventRecord back, DecodeEvent(line));
  EXPECT_EQ(back.name, e.name);
  EXPECT_EQ(back.source, "AGENT");
  EXPECT_EQ(back.timestamp_ms, e.timestamp_ms);
  EXPECT_EQ(back.metadata, e.metadata);
}

TEST(EncodeEventTest, InvalidUtf8IsReplacedNotThrown) {
  EventRecord e;
  e.name = "fabric.failure";
  e.metadata = {{"raw_error", std::string("bad \xff byte")}};
  const std::string line = EncodeEvent(e);
  EXPECT_THAT(line, HasSubstr("bad \xef\xbf\xbd byte"));
  EXPECT_TRUE(DecodeEvent(line).ok());
}

TEST(DecodeEventTest, RefusesWhatIsNotARecord) {
  for (const char* bad : {"", "[]", "{}", R"({"name":"x","source":"AGENT","timestamp":1})",
                          R"({"name":"x","source":"AGENT","timestamp":1,"metadata":{"a":[1]}})",
                          R"({"name":1,"source":"AGENT","timestamp":1,"metadata":{}})", "{"}) {
    EXPECT_FALSE(DecodeEvent(bad).ok()) << bad;
  }
}

TEST(EventLogTest, AppendsOneStampedRecordALineToEveryFile) {
  const std::string a = TempPath("a.jsonl"), b = TempPath("b.jsonl");
  unlink(a.c_str());
  unlink(b.c_str());
  FakeClock clock(absl::FromUnixMillis(5000));
  FABRIC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log,
                              EventLog::Open({a, b}, &clock, "job", "host1"));
  log->Record("fabric.attempt.start", {{"restart_count", 0}});
  clock.AdvanceTime(absl::Milliseconds(250));
  log->set_node_rank(1);
  log->Record("fabric.run.end", {{"exit_code", 0}});
  for (const std::string& path : {a, b}) {
    const std::string text = Slurp(path);
    std::istringstream lines(text);
    std::string l1, l2, l3;
    ASSERT_TRUE(std::getline(lines, l1));
    ASSERT_TRUE(std::getline(lines, l2));
    EXPECT_FALSE(std::getline(lines, l3));
    FABRIC_ASSERT_OK_AND_ASSIGN(EventRecord e1, DecodeEvent(l1));
    FABRIC_ASSERT_OK_AND_ASSIGN(EventRecord e2, DecodeEvent(l2));
    EXPECT_EQ(e1.name, "fabric.attempt.start");
    EXPECT_EQ(e1.timestamp_ms, 5000);
    EXPECT_EQ(e1.metadata["run_id"], "job");
    EXPECT_EQ(e1.metadata["hostname"], "host1");
    EXPECT_EQ(e1.metadata["node_rank"], -1);
    EXPECT_EQ(e1.metadata["restart_count"], 0);
    EXPECT_EQ(e2.timestamp_ms, 5250);
    EXPECT_EQ(e2.metadata["node_rank"], 1);
  }
}

TEST(EventLogTest, AFileThatCannotBeOpenedIsOneClearError) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      EventLog::Open({"/nonexistent-dir/events.jsonl"}, &clock, "job", "h");
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("/nonexistent-dir/events.jsonl"));
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("No such file or directory"));
}

TEST(EventLogTest, AFullDiskStopsThatFileWithoutStoppingTheRun) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const std::string ok = TempPath("ok.jsonl");
  unlink(ok.c_str());
  FakeClock clock;
  FABRIC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log,
                              EventLog::Open({"/dev/full", ok}, &clock, "job", "h"));
  log->Record("fabric.attempt.start");
  log->Record("fabric.attempt.end");
  const std::string text = Slurp(ok);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

}  // namespace
}  // namespace fabric::launcher
