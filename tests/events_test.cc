// The event log of real runs (fabric-run --events, --log-dir): the records of a run with one
// injected failure and one restart, in order, each readable by torchelastic's own parser.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/event_log.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::fabric::launcher::DecodeEvent;
using ::fabric::launcher::EventRecord;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<EventRecord> ReadEvents(const std::string& path) {
  std::vector<EventRecord> out;
  for (const std::string& line : Lines(ReadFile(path))) {
    absl::StatusOr<EventRecord> e = DecodeEvent(line);
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) out.push_back(*e);
  }
  return out;
}

std::vector<std::string> Names(const std::vector<EventRecord>& events) {
  std::vector<std::string> names;
  for (const EventRecord& e : events) names.push_back(e.name);
  return names;
}

TEST(EventsTest, OneFailureAndOneRestartGiveExactlyTheExpectedRecords) {
  const std::string dir = NewTempDir("events");
  const std::string file = dir + "/events.jsonl";
  FabricRun run({"--devices", "2", "--max-restarts", "1", "--run-id", "evjob", "--events", file,
                 "--log-dir", dir + "/logs", HelperPath(), "fail_until", "1", "7"});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  const std::vector<EventRecord> all = ReadEvents(file);
  // The failure is reported to the coordinator at the first failing exit, so the round
  // change it brings may come before or after rank 1's exit: anywhere between rank 0's
  // exit and the restart. Every other record has its one place.
  std::vector<EventRecord> events;
  int round_change = -1;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name != "fabric.round.change") {
      events.push_back(all[i]);
    } else {
      EXPECT_EQ(round_change, -1) << "a second round change";
      round_change = static_cast<int>(events.size());  // index of the record after it
      EXPECT_EQ(all[i].metadata["cause"], "worker_failure");
      EXPECT_EQ(all[i].metadata["round"], 1);
    }
  }
  ASSERT_THAT(
      Names(events),
      ElementsAreArray(std::vector<std::string>{
          "fabric.rendezvous.round", "fabric.attempt.start", "fabric.worker.start",
          "fabric.worker.start", "fabric.worker.exit", "fabric.worker.exit", "fabric.attempt.end",
          "fabric.failure", "fabric.restart", "fabric.rendezvous.round", "fabric.attempt.start",
          "fabric.worker.start", "fabric.worker.start", "fabric.worker.exit", "fabric.worker.exit",
          "fabric.attempt.end", "fabric.run.end"}))
      << ReadFile(file);
  EXPECT_GE(round_change, 5);  // after rank 0's exit
  EXPECT_LE(round_change, 8);  // before the restart
  int64_t last_ts = 0;
  for (const EventRecord& e : all) {
    EXPECT_EQ(e.source, "AGENT");
    EXPECT_EQ(e.metadata["run_id"], "evjob");
    EXPECT_EQ(e.metadata["node_rank"], 0);
    EXPECT_GE(e.timestamp_ms, last_ts);  // in the order they happened
    last_ts = e.timestamp_ms;
  }
  // Attempt 0: rank 0 failed with 7 (the root cause), rank 1 was stopped with SIGTERM.
  EXPECT_EQ(events[4].metadata["global_rank"], 0);
  EXPECT_EQ(events[4].metadata["state"], "FAILED");
  EXPECT_EQ(events[4].metadata["exit_code"], 7);
  EXPECT_EQ(events[4].metadata["stopped_by_agent"], false);
  EXPECT_EQ(events[5].metadata["global_rank"], 1);
  EXPECT_EQ(events[5].metadata["signal"], "SIGTERM");
  EXPECT_EQ(events[5].metadata["stopped_by_agent"], true);
  EXPECT_EQ(events[6].metadata["outcome"], "worker_failed");
  EXPECT_EQ(events[6].metadata["root_global_rank"], 0);
  EXPECT_EQ(events[7].metadata["restarting"], true);
  EXPECT_EQ(events[7].metadata["exit_code"], 7);
  EXPECT_EQ(events[8].metadata["restart_count"], 1);
  EXPECT_EQ(events[9].metadata["restart_count"], 1);
  // The worker ids are the pids the workers had, started and exited once each.
  std::set<int64_t> started, exited;
  for (const EventRecord& e : events) {
    if (e.name == "fabric.worker.start") started.insert(e.metadata["worker_id"].get<int64_t>());
    if (e.name == "fabric.worker.exit") exited.insert(e.metadata["worker_id"].get<int64_t>());
  }
  EXPECT_EQ(started.size(), 4u);
  EXPECT_EQ(started, exited);
  EXPECT_EQ(events[13].metadata["state"], "SUCCEEDED");
  EXPECT_EQ(events[14].metadata["state"], "SUCCEEDED");
  EXPECT_EQ(events[15].metadata["outcome"], "succeeded");
  EXPECT_EQ(events.back().metadata["exit_code"], 0);
  // --log-dir keeps the same log.
  EXPECT_EQ(ReadFile(dir + "/logs/evjob/events.jsonl"), ReadFile(file));
}

// A restart storm (issue 27's target): 200 failures and restarts in a row, and not one record
// lost, torn or out of order.
TEST(EventsTest, TwoHundredRestartsLoseNoRecord) {
  const std::string dir = NewTempDir("events_storm");
  const std::string file = dir + "/events.jsonl";
  const absl::Time t0 = absl::Now();
  FabricRun run({"--devices", "2", "--max-restarts", "200", "--grace-period", "2s", "--quiet",
                 "--events", file, HelperPath(), "fail_until", "200", "7"});
  ASSERT_EQ(run.Wait(absl::Seconds(600)), 0) << run.err().substr(0, 2000);
  std::map<std::string, int> counts;
  int lines = 0;
  int64_t last_ts = 0;
  for (const std::string& line : Lines(ReadFile(file))) {
    ++lines;
    absl::StatusOr<EventRecord> e = DecodeEvent(line);
    ASSERT_TRUE(e.ok()) << "line " << lines << ": " << e.status();
    ++counts[e->name];
    EXPECT_GE(e->timestamp_ms, last_ts);
    last_ts = e->timestamp_ms;
  }
  EXPECT_EQ(counts["fabric.attempt.start"], 201);
  EXPECT_EQ(counts["fabric.attempt.end"], 201);
  EXPECT_EQ(counts["fabric.restart"], 200);
  EXPECT_EQ(counts["fabric.failure"], 200);
  EXPECT_EQ(counts["fabric.worker.start"], 402);
  EXPECT_EQ(counts["fabric.worker.exit"], 402);
  EXPECT_EQ(counts["fabric.round.change"], 200);
  EXPECT_EQ(counts["fabric.run.end"], 1);
  EXPECT_EQ(counts["fabric.rendezvous.round"], 201);
  std::cout << "200 restarts in " << absl::FormatDuration(absl::Now() - t0) << ", " << lines
            << " records\n";
}

// The peer's parser: torch.distributed.elastic.events.api.Event.deserialize reads every line.
TEST(EventsTest, TorchelasticsParserReadsEveryLine) {
  const std::string python = VenvPython();
  ASSERT_FALSE(python.empty()) << "no .venv/bin/python: run tools/setup.sh";
  const std::string dir = NewTempDir("events_torch");
  const std::string file = dir + "/events.jsonl";
  FabricRun run({"--devices", "2", "--max-restarts", "1", "--events", file, HelperPath(),
                 "fail_until", "1", "3"});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  const std::string script =
      absl::StrCat(python,
                   " -c \"import sys; from torch.distributed.elastic.events.api import Event\n"
                   "n = 0\n"
                   "for line in open(sys.argv[1]):\n"
                   "    e = Event.deserialize(line)\n"
                   "    assert e.source.value == 'AGENT' and isinstance(e.timestamp, int), line\n"
                   "    n += 1\n"
                   "print('parsed', n)\" ",
                   file, " > ", dir, "/out.txt 2>&1");
  EXPECT_EQ(std::system(script.c_str()), 0) << ReadFile(dir + "/out.txt");
  EXPECT_EQ(ReadFile(dir + "/out.txt"), "parsed 18\n");
}

TEST(EventsTest, AnEventFileThatCannotBeWrittenIsOneLineAndExit2) {
  const std::string dir = NewTempDir("events_bad");
  FabricRun run(
      {"--devices", "2", "--events", dir + "/no/such/dir/e.jsonl", HelperPath(), "sleep"});
  EXPECT_EQ(run.Wait(), 2);
  EXPECT_THAT(run.err(), HasSubstr("fabric-run: --events " + dir +
                                   "/no/such/dir/e.jsonl: No such "
                                   "file or directory"));
  EXPECT_EQ(Lines(run.err()).size(), 1u) << run.err();
  // No worker was started (each would have written its pid file).
  EXPECT_EQ(ReadFile(dir + "/worker_0.pid"), "");
}

TEST(EventsTest, AnEmptyEventsFlagIsRefused) {
  FabricRun run({"--devices", "1", "--events=", "/bin/true"});
  EXPECT_EQ(run.Wait(), 2);
  EXPECT_THAT(run.err(), HasSubstr("--events"));
}

}  // namespace
}  // namespace fabric::testing
