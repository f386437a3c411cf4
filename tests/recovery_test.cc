// In-place recovery end to end: the real fabric-run, the example trainer on the C++
// runtime (DDP over Gloo, 4 workers on loopback). A worker SIGKILLs itself at the start of
// a step; with --recovery in-place only it is started again, the others keep their pids,
// every rank logs each step exactly once, and the final parameters equal those of an
// uninterrupted run. Negative controls: the same failure without --recovery in-place
// restarts every worker; a failure of rank 0 (it serves the store) falls back to the
// gang restart.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kSteps = 12;
constexpr int kCrashStep = 5;

std::vector<std::string> TrainArgs(const std::string& dir, const std::string& params) {
  return {Runfile("examples/train/train"), "--strategy=ddp", "--steps", absl::StrCat(kSteps),
          "--d-model=32", "--layers=1", "--heads=2", "--seq-len=8", "--batch-size=4",
          "--vocab=64", "--log-every=1000", "--warmup-steps=0", "--step-log", dir,
          "--dump-params", params};
}

std::vector<float> ReadFloats(const std::string& path) {
  const std::string raw = ReadFile(path);
  std::vector<float> out(raw.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), raw.data(), out.size() * sizeof(float));
  return out;
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

std::vector<float> Uninterrupted(const std::string& name) {
  const std::string dir = NewTempDir(name);
  const std::string params = dir + "/params.bin";
  std::vector<std::string> args = {"--devices", "4"};
  for (const std::string& a : TrainArgs(dir, params)) args.push_back(a);
  FabricRun run(args);
  std::optional<int> rc = run.Wait(absl::Seconds(240));
  EXPECT_EQ(rc, 0) << run.err();
  return ReadFloats(params);
}

// Runs the in-place job (extra fabric-run flags in `extra`), checks that only rank 2 got
// a new pid, that every rank logged every step exactly once and that the parameters
// equal an uninterrupted run's; returns rank 2's new pid and fabric-run's stderr.
std::pair<int, std::string> RunInPlace(const std::string& name,
                                       const std::vector<std::string>& extra) {
  const std::vector<float> expected = Uninterrupted(name + "_baseline");
  EXPECT_FALSE(expected.empty());
  const std::string dir = NewTempDir(name);
  const std::string params = dir + "/params.bin";
  std::vector<std::string> args = {"--devices", "4", "--recovery", "in-place",
                                   "--max-restarts", "1"};
  for (const std::string& a : extra) args.push_back(a);
  for (const std::string& a : TrainArgs(dir, params)) args.push_back(a);
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
      EXPECT_EQ(logs[r][s].size(), 1u) << "rank " << r << " logged step " << s << " "
                                       << logs[r][s].size() << " times";
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
  auto [pid, err] = RunInPlace("in_place", {});
  EXPECT_THAT(err, HasSubstr("started a replacement (pid " + std::to_string(pid) + ")"));
}

// With --spares 1 the waiting spare (started with the workers) becomes rank 2.
TEST(RecoveryTest, ASpareTakesOverTheKilledRank) {
  auto [pid, err] = RunInPlace("spare", {"--spares", "1"});
  EXPECT_THAT(err, HasSubstr("spare 0 (pid " + std::to_string(pid) + ") takes over"));
  EXPECT_THAT(err, HasSubstr("fabric runtime: spare (pid " + std::to_string(pid) +
                             ") takes over rank 2"));
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
  std::vector<std::string> args = {"--devices", "4", "--recovery", "in-place",
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

}  // namespace
}  // namespace fabric::testing
