// In-place recovery end to end: the real fabric-run, the example trainer on the C++
// runtime (DDP over Gloo, 4 workers on loopback). A worker SIGKILLs itself at the start of
// a step; with --recovery in-place only it is started again, the others keep their pids,
// every rank logs each step exactly once, and the final parameters equal those of an
// uninterrupted run. Negative controls: the same failure without --recovery in-place
// restarts every worker; a failure of rank 0 (it serves the store) falls back to the
// gang restart.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rendezvous/etcd_test_cluster.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kSteps = 12;
constexpr int kCrashStep = 5;

std::vector<std::string> TrainArgs(const std::string& dir, const std::string& params,
                                   int steps = kSteps) {
  return {Runfile("examples/train/train"),
          "--strategy=ddp",
          "--steps",
          absl::StrCat(steps),
          "--d-model=32",
          "--layers=1",
          "--heads=2",
          "--seq-len=8",
          "--batch-size=4",
          "--vocab=64",
          "--log-every=1000",
          "--warmup-steps=0",
          "--step-log",
          dir,
          "--dump-params",
          params};
}

std::vector<float> ReadFloats(const std::string& path) {
  const std::string raw = ReadFile(path);
  std::vector<float> out(raw.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), raw.data(), out.size() * sizeof(float));
  return out;
}

// The parent pid of `pid` (/proc/<pid>/stat), or -1.
int ParentOf(int pid) {
  if (pid <= 1) return -1;
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');  // the command name may hold spaces
  int ppid = -1;
  if (paren == std::string::npos || std::sscanf(stat.c_str() + paren + 1, " %*c %d", &ppid) != 1) {
    return -1;
  }
  return ppid;
}

// rank -> (step -> pids that logged it)
std::map<int, std::map<int, std::vector<int>>> StepLogs(const std::string& dir, int ranks) {
  std::map<int, std::map<int, std::vector<int>>> out;
  for (int r = 0; r < ranks; ++r) {
    for (const std::string& line : Lines(ReadFile(absl::StrCat(dir, "/rank_", r, ".steps")))) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      int step = 0, pid = 0;
      if (f.size() >= 4 && f[0] == "step" && absl::SimpleAtoi(f[1], &step) &&
          absl::SimpleAtoi(f[3], &pid)) {
        out[r][step].push_back(pid);
      }
    }
  }
  return out;
}

std::vector<float> Uninterrupted(const std::string& name,
                                 const std::vector<std::string>& train_extra) {
  const std::string dir = NewTempDir(name);
  const std::string params = dir + "/params.bin";
  std::vector<std::string> args = {"--devices", "4"};
  for (const std::string& a : TrainArgs(dir, params)) args.push_back(a);
  for (const std::string& a : train_extra) args.push_back(a);
  FabricRun run(args);
  std::optional<int> rc = run.Wait(absl::Seconds(240));
  EXPECT_EQ(rc, 0) << run.err();
  return ReadFloats(params);
}

// Runs the in-place job (extra fabric-run flags in `extra`, trainer flags in
// `train_extra`), checks that only rank 2 got a new pid, that every rank logged every
// step exactly once and that the parameters equal an uninterrupted run's; returns rank
// 2's new pid and fabric-run's stderr. The step logs stay in `*dir_out` when given.
std::pair<int, std::string> RunInPlace(const std::string& name,
                                       const std::vector<std::string>& extra,
                                       const std::vector<std::string>& train_extra = {},
                                       std::string* dir_out = nullptr) {
  const std::vector<float> expected = Uninterrupted(name + "_baseline", train_extra);
  EXPECT_FALSE(expected.empty());
  const std::string dir = NewTempDir(name);
  if (dir_out != nullptr) *dir_out = dir;
  const std::string params = dir + "/params.bin";
  std::vector<std::string> args = {"--devices",      "4", "--recovery", "in-place",
                                   "--max-restarts", "1", "--events",   dir + "/events.jsonl"};
  for (const std::string& a : extra) args.push_back(a);
  for (const std::string& a : TrainArgs(dir, params)) args.push_back(a);
  for (const std::string& a : train_extra) args.push_back(a);
  for (const char* a : {"--crash-at-step", "5", "--crash-rank", "2", "--crash-with", "kill"}) {
    args.push_back(a);
  }
  FabricRun run(args);
  std::optional<int> rc = run.Wait(absl::Seconds(240));
  EXPECT_EQ(rc, 0) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("recovering in place"));
  EXPECT_THAT(run.err(), HasSubstr("recovered in place"));
  EXPECT_THAT(run.err(), Not(HasSubstr("restarting")));

  auto logs = StepLogs(dir, 4);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(logs[r].size(), static_cast<size_t>(kSteps)) << "rank " << r << "\n" << run.err();
    std::set<int> pids;
    for (int s = 0; s < kSteps; ++s) {
      EXPECT_EQ(logs[r][s].size(), 1u)
          << "rank " << r << " logged step " << s << " " << logs[r][s].size() << " times";
      if (!logs[r][s].empty()) pids.insert(logs[r][s][0]);
    }
    if (r != 2) {
      EXPECT_EQ(pids.size(), 1u) << "rank " << r << " was restarted";
    } else {
      EXPECT_EQ(pids.size(), 2u);
    }
  }
  int new_pid = -1;
  if (logs[2][kCrashStep].size() == 1 && logs[2][kSteps - 1].size() == 1) {
    EXPECT_NE(logs[2][kCrashStep - 1][0], logs[2][kCrashStep][0]);
    EXPECT_EQ(logs[2][kCrashStep][0], logs[2][kSteps - 1][0]);
    new_pid = logs[2][kCrashStep][0];
  }
  const std::vector<float> got = ReadFloats(params);
  EXPECT_EQ(got.size(), expected.size());
  double max_diff = got.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < got.size() && i < expected.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(got[i] - expected[i])));
  }
  EXPECT_LT(max_diff, 1e-5);
  return {new_pid, run.err()};
}

TEST(RecoveryTest, InPlaceReplacesOnlyTheKilledRankAndLosesNoStep) {
  std::string dir;
  auto [pid, err] = RunInPlace("in_place", {}, {}, &dir);
  EXPECT_THAT(err, HasSubstr("started a replacement (pid " + std::to_string(pid) + ")"));
  // The event log has the replacement, and no restart.
  const std::string events = ReadFile(dir + "/events.jsonl");
  EXPECT_THAT(events, HasSubstr(R"("name":"fabric.worker.replaced")")) << events;
  EXPECT_THAT(events, Not(HasSubstr(R"("name":"fabric.spare.promoted")")));
  EXPECT_THAT(events, Not(HasSubstr(R"("name":"fabric.restart")")));
}

// With --spares 1 the waiting spare (started with the workers) becomes rank 2.
TEST(RecoveryTest, ASpareTakesOverTheKilledRank) {
  std::string dir;
  auto [pid, err] = RunInPlace("spare", {"--spares", "1"}, {}, &dir);
  const std::string events = ReadFile(dir + "/events.jsonl");
  EXPECT_THAT(events, HasSubstr(R"("name":"fabric.spare.promoted")")) << events;
  EXPECT_THAT(events, Not(HasSubstr(R"("name":"fabric.worker.replaced")")));
  EXPECT_THAT(err, HasSubstr("spare 0 (pid " + std::to_string(pid) + ") takes over"));
  EXPECT_THAT(
      err, HasSubstr("fabric runtime: spare (pid " + std::to_string(pid) + ") takes over rank 2"));
}

// 16-mixed, the loss scale growing after every clean step: by the crash it is no longer
// the initial 65536, and the replacement goes on with the survivors' scale (sent with the
// state), so the run still equals the uninterrupted one. A replacement starting at 65536
// would scale its gradients differently.
TEST(RecoveryTest, InPlaceUnder16MixedCarriesTheLossScale) {
  std::string dir;
  RunInPlace("in_place_fp16", {}, {"--precision=16-mixed", "--loss-scale-growth-interval=1"}, &dir);
  auto scale_at = [&](int rank, int step) {
    for (const std::string& line : Lines(ReadFile(absl::StrCat(dir, "/rank_", rank, ".steps")))) {
      int s = -1;
      double scale = -1;
      if (std::sscanf(line.c_str(), "step %d pid %*s t %*s world %*s scale %lf", &s, &scale) == 2 &&
          s == step) {
        return scale;
      }
    }
    return -1.0;
  };
  const double before = scale_at(0, kCrashStep - 1);
  EXPECT_GT(before, 0);
  EXPECT_NE(before, 65536) << "the scale never changed: the test would not see it sent";
  EXPECT_EQ(scale_at(2, kCrashStep), scale_at(0, kCrashStep));
  EXPECT_EQ(scale_at(2, kSteps - 1), scale_at(0, kSteps - 1));
}

TEST(RecoveryTest, SparesNeedInPlace) {
  FabricRun run({"--devices", "2", "--spares", "1", "/bin/true"});
  EXPECT_EQ(run.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(run.err(), HasSubstr("--spares"));
  EXPECT_THAT(run.err(), HasSubstr("needs --recovery in-place"));
}

// Negative control: the same failure without --recovery in-place restarts every rank
// (so the pid checks above can fail).
TEST(RecoveryTest, WithoutInPlaceEveryRankRestarts) {
  const std::string dir = NewTempDir("gang");
  const std::string params = dir + "/params.bin";
  std::vector<std::string> args = {"--devices", "4", "--max-restarts", "1"};
  for (const std::string& a : TrainArgs(dir, params)) args.push_back(a);
  for (const char* a : {"--crash-at-step", "5", "--crash-rank", "2", "--crash-with", "kill"}) {
    args.push_back(a);
  }
  FabricRun run(args);
  ASSERT_EQ(run.Wait(absl::Seconds(240)), 0) << run.err();
  EXPECT_THAT(run.err(), Not(HasSubstr("recovering in place")));
  auto logs = StepLogs(dir, 4);
  std::set<int> rank0_pids;
  for (auto& [step, pids] : logs[0]) rank0_pids.insert(pids.begin(), pids.end());
  EXPECT_EQ(rank0_pids.size(), 2u);
  EXPECT_GT(logs[0][0].size(), 1u);  // no checkpoint: the restart began at step 0 again
}

// Rank 0 serves the workers' store: its failure cannot be recovered in place, and the
// run falls back to the gang restart.
TEST(RecoveryTest, RankZeroFailureFallsBackToTheGangRestart) {
  const std::string dir = NewTempDir("rank0");
  const std::string params = dir + "/params.bin";
  std::vector<std::string> args = {"--devices",      "4", "--recovery", "in-place",
                                   "--max-restarts", "1"};
  for (const std::string& a : TrainArgs(dir, params)) args.push_back(a);
  for (const char* a : {"--crash-at-step", "5", "--crash-rank", "0", "--crash-with", "kill"}) {
    args.push_back(a);
  }
  FabricRun run(args);
  ASSERT_EQ(run.Wait(absl::Seconds(240)), 0) << run.err();
  EXPECT_THAT(run.err(), Not(HasSubstr("recovering in place")));
  auto logs = StepLogs(dir, 4);
  std::set<int> rank1_pids;
  for (auto& [step, pids] : logs[1]) rank1_pids.insert(pids.begin(), pids.end());
  EXPECT_EQ(rank1_pids.size(), 2u);
}

// Two nodes of two ranks, --num-nodes 1:2, training kLongSteps; node `victim`'s agent is
// SIGKILLed (its workers die with it) once rank 0 has made 5 steps. With `rdzv_endpoint`
// the agents use that standalone rendezvous server (else node 0's agent embeds it).
// `partition`: the victim's agent and workers are SIGSTOPped instead (their sockets stay
// open, as when a node is cut off), and SIGKILLed once the other node is done.
// `flags`: fabric-run flags for both agents (default: a 5 s last call).
// Returns the other node's exit status, its stderr and when the kill happened (Unix ms).
constexpr int kLongSteps = 300;
struct LostNode {
  std::optional<int> rc;
  std::string err;
  int64_t killed_ms = 0;
};
LostNode KillNode(const std::string& dir, bool in_place, int victim = 1,
                  const std::string& rdzv_endpoint = "", bool partition = false,
                  const std::vector<std::string>& flags = {"--last-call-timeout", "5s"}) {
  const int port = FreePort();
  auto agent = [&](int node) {
    std::vector<std::string> args = {
        "--devices",      "2", "--num-nodes", "1:2", "--node-rank", absl::StrCat(node),
        "--max-restarts", "1"};
    args.insert(args.end(), flags.begin(), flags.end());
    if (rdzv_endpoint.empty()) {
      args.push_back("--main-port");
      args.push_back(absl::StrCat(port));
    } else {
      args.push_back("--rdzv-endpoint");
      args.push_back(rdzv_endpoint);
    }
    if (in_place) {
      args.push_back("--recovery");
      args.push_back("in-place");
    }
    args.push_back("--events");
    args.push_back(absl::StrCat(dir, "/events_", node, ".jsonl"));
    for (const std::string& a :
         TrainArgs(dir, absl::StrCat(dir, "/params_", node, ".bin"), kLongSteps)) {
      args.push_back(a);
    }
    return std::make_unique<FabricRun>(args);
  };
  std::unique_ptr<FabricRun> nodes[2] = {agent(0), agent(1)};
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (StepLogs(dir, 1)[0].size() < 5 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  LostNode out;
  EXPECT_GE(StepLogs(dir, 1)[0].size(), 5u) << nodes[0]->err() << nodes[1]->err();
  out.killed_ms = absl::ToUnixMillis(absl::Now());
  std::set<int> victim_workers;  // the pids the victim's ranks logged steps with
  if (partition) {
    kill(nodes[victim]->pid(), SIGSTOP);
    auto logs = StepLogs(dir, 4);
    for (int r = 2 * victim; r < 2 * victim + 2; ++r) {
      for (auto& [step, pids] : logs[r]) {
        for (int pid : pids) {
          if (ParentOf(pid) == nodes[victim]->pid())
            victim_workers.insert(pid);  // its workers only
        }
      }
    }
    EXPECT_EQ(victim_workers.size(), 2u) << "ranks 2-3 logged no (or odd) pids";
    for (int pid : victim_workers) kill(pid, SIGSTOP);
  } else {
    kill(nodes[victim]->pid(), SIGKILL);
  }
  out.rc = nodes[1 - victim]->Wait(absl::Seconds(240));
  for (int pid : victim_workers) kill(pid, SIGKILL);
  if (partition) kill(nodes[victim]->pid(), SIGKILL);
  nodes[victim]->Wait(absl::Seconds(10));
  out.err = nodes[1 - victim]->err();
  return out;
}

// How many steps rank `rank` logged with world size `world`.
int StepsWithWorld(const std::string& dir, int rank, int world) {
  int n = 0;
  for (const std::string& line : Lines(ReadFile(absl::StrCat(dir, "/rank_", rank, ".steps")))) {
    if (line.find(absl::StrCat("world ", world, " ")) != std::string::npos) ++n;
  }
  return n;
}

// The agent's own lines of `err` ("fabric-run: ..."), to the test's output.
void PrintAgentLines(const std::string& err) {
  for (const std::string& line : Lines(err)) {
    if (line.rfind("fabric", 0) == 0) std::printf("%s\n", line.c_str());
  }
}

// With --recovery in-place node 0's workers keep running: the job shrinks in place to
// 2 ranks, no step is repeated or skipped, the steps after the loss run with world 2,
// and node 0 ends with exit 0.
TEST(RecoveryTest, ALostNodeShrinksTheJobInPlace) {
  const std::string dir = NewTempDir("shrink");
  LostNode run = KillNode(dir, /*in_place=*/true);
  ASSERT_EQ(run.rc, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("shrinks in place to 2 ranks"));
  // The workers acknowledged the shrink (the heartbeat file's second word).
  EXPECT_THAT(run.err, HasSubstr("this node's workers re-formed with 2 ranks"));
  EXPECT_THAT(run.err, Not(HasSubstr("restarting")));
  const std::string events = ReadFile(dir + "/events_0.jsonl");
  EXPECT_THAT(events, HasSubstr(R"("name":"fabric.shrink")")) << events;
  EXPECT_THAT(events, Not(HasSubstr(R"("name":"fabric.restart")")));

  auto logs = StepLogs(dir, 2);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(logs[r].size(), static_cast<size_t>(kLongSteps)) << "rank " << r << "\n" << run.err;
    std::set<int> pids;
    for (int s = 0; s < kLongSteps; ++s) {
      EXPECT_EQ(logs[r][s].size(), 1u)
          << "rank " << r << " logged step " << s << " " << logs[r][s].size() << " times";
      if (!logs[r][s].empty()) pids.insert(logs[r][s][0]);
    }
    EXPECT_EQ(pids.size(), 1u) << "rank " << r << " was restarted";
  }
  // The world each step ran with: 4, then 2 once node 1 was gone.
  const std::vector<std::string> lines = Lines(ReadFile(dir + "/rank_0.steps"));
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.front(), HasSubstr("world 4"));
  EXPECT_THAT(lines.back(), HasSubstr("world 2"));
  // Node 1's ranks logged only steps before the loss.
  EXPECT_LT(StepLogs(dir, 4)[2].size(), static_cast<size_t>(kLongSteps));
  for (const std::string& line : lines) {
    long long t = 0;
    if (line.find("world 2") != std::string::npos &&
        std::sscanf(line.c_str(), "step %*d pid %*d t %lld", &t) == 1) {
      std::printf(
          "node 1's agent SIGKILLed -> rank 0's next step with world 2: %lld ms "
          "(the rendezvous' last call is 5 s)\n",
          t - static_cast<long long>(run.killed_ms));
      break;
    }
  }
  PrintAgentLines(run.err);
}

// A node cut off rather than dead (its agent and workers SIGSTOPped: no connection
// closes): the rendezvous sees its keep-alives stop and node 0's agent tells its workers
// to shrink, but they are blocked in an all-reduce with the silent ranks, which Gloo
// fails only at its timeout (5 min). Within --recovery-timeout of the shrink the agent
// sees they did not take it and restarts the job (world 2, from step 0), instead of
// waiting for that timeout.
TEST(RecoveryTest, APartitionedNodeBlockingTheShrinkRestartsTheJob) {
  const std::string dir = NewTempDir("shrink_partition");
  LostNode run = KillNode(
      dir, /*in_place=*/true, /*victim=*/1, "", /*partition=*/true,
      {"--last-call-timeout", "1s", "--keepalive-timeout", "2s", "--recovery-timeout", "4s"});
  ASSERT_EQ(run.rc, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("shrinks in place to 2 ranks"));
  EXPECT_THAT(run.err, HasSubstr("did not re-form with 2 ranks within 4s"));
  EXPECT_THAT(run.err, Not(HasSubstr("this node's workers re-formed")));
  // The wait for the acknowledgement is not silent (at 2 s of the 4).
  EXPECT_THAT(run.err, HasSubstr("of this node's workers to re-form with 2 ranks"));
  EXPECT_THAT(run.err, HasSubstr("s of --recovery-timeout left"));
  // The restarted round trained every step with world 2, under new pids.
  auto logs = StepLogs(dir, 2);
  std::set<int> pids;
  for (auto& [step, p] : logs[0]) pids.insert(p.begin(), p.end());
  EXPECT_EQ(pids.size(), 2u) << run.err;
  EXPECT_EQ(StepsWithWorld(dir, 0, 2), kLongSteps) << run.err;
  PrintAgentLines(run.err);
}

// The same shrink with the rendezvous on etcd (--rdzv-backend etcd): node 1's loss is
// its lease expiring (--keepalive-timeout 3s) rather than a closed stream; the survivors'
// workers wait for the shrink within --recovery-timeout and go on in place.
TEST(RecoveryTest, ALostNodeShrinksTheJobInPlaceOnEtcd) {
  absl::StatusOr<std::unique_ptr<rendezvous::EtcdTestCluster>> etcd =
      rendezvous::EtcdTestCluster::Start(1);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  const std::string dir = NewTempDir("shrink_etcd");
  LostNode run = KillNode(dir, /*in_place=*/true, /*victim=*/1, (*etcd)->endpoints()[0],
                          /*partition=*/false,
                          {"--last-call-timeout", "5s", "--rdzv-backend", "etcd", "--rdzv-id",
                           "shrink-on-etcd", "--keepalive-timeout", "3s"});
  ASSERT_EQ(run.rc, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("shrinks in place to 2 ranks"));
  EXPECT_THAT(run.err, Not(HasSubstr("restarting")));
  auto logs = StepLogs(dir, 2);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(logs[r].size(), static_cast<size_t>(kLongSteps)) << "rank " << r << "\n" << run.err;
    std::set<int> pids;
    for (const auto& [step, step_pids] : logs[r]) {
      if (!step_pids.empty()) pids.insert(step_pids[0]);
    }
    EXPECT_EQ(pids.size(), 1u) << "rank " << r << " was restarted";
  }
  const std::vector<std::string> lines = Lines(ReadFile(dir + "/rank_0.steps"));
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("world 2"));
  EXPECT_THAT(ReadFile(dir + "/events_0.jsonl"), HasSubstr(R"("name":"fabric.shrink")"));
  PrintAgentLines(run.err);
}

// Negative control: without --recovery in-place the lost node restarts node 0's workers
// too (from step 0: no checkpoint), so the pid and step checks above can fail.
TEST(RecoveryTest, ALostNodeWithoutInPlaceRestartsTheOthers) {
  const std::string dir = NewTempDir("shrink_gang");
  LostNode run = KillNode(dir, /*in_place=*/false);
  ASSERT_EQ(run.rc, 0) << run.err;
  EXPECT_THAT(run.err, Not(HasSubstr("shrinks in place")));
  auto logs = StepLogs(dir, 1);
  std::set<int> pids;
  for (auto& [step, p] : logs[0]) pids.insert(p.begin(), p.end());
  EXPECT_EQ(pids.size(), 2u) << run.err;
  EXPECT_GT(logs[0][0].size(), 1u);
}

// The node holding rank 0 lost (a standalone rendezvous outlives it): its worker served
// the store every worker used, so node 1 cannot shrink in place; it stops its workers
// (neither replaced in place nor reported as the run's failure) and runs the new round
// (world 2, its ranks now 0-1) afresh from step 0.
TEST(RecoveryTest, LosingRankZerosNodeIsAGangRestart) {
  FabricRun server({"--port", "0", "--keepalive-timeout", "3s"}, {}, {}, false,
                   Runfile("rendezvous/fabric-rendezvous"));
  ASSERT_TRUE(server.WaitForOutput("\n", false, absl::Seconds(30))) << server.err();
  const std::string port = Lines(server.out())[0];
  const std::string dir = NewTempDir("shrink_rank0");
  LostNode run = KillNode(dir, /*in_place=*/true, /*victim=*/0, "127.0.0.1:" + port);
  kill(server.pid(), SIGTERM);
  server.Wait(absl::Seconds(30));
  ASSERT_EQ(run.rc, 0) << run.err;
  // Which comes first decides the message: the new round's plan (not a shrink), or
  // the workers' failure when their store died.
  EXPECT_THAT(run.err, ::testing::AnyOf(HasSubstr("not a shrink around the same rank-0 node"),
                                        HasSubstr("while the job was re-forming")));
  EXPECT_THAT(run.err, Not(HasSubstr("shrinks in place")));
  // Node 1's workers as ranks 2-3 made only the steps before the loss; restarted as
  // ranks 0-1 (world 2) they trained every step from 0.
  EXPECT_LT(StepLogs(dir, 4)[2].size(), static_cast<size_t>(kLongSteps));
  EXPECT_EQ(StepsWithWorld(dir, 0, 2), kLongSteps) << run.err;
}

}  // namespace
}  // namespace fabric::testing
