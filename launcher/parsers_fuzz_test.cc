// Deterministic randomized inputs for the launcher's parsers (run under ASan+UBSan in CI,
// tools/test.sh): the command line (flags, values, FABRIC_/PET_/Kubernetes variables) and
// torch's file-timer requests. Every input must give OK or one InvalidArgument line;
// nothing may crash.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "launcher/cli.h"
#include "launcher/watchdog.h"

namespace fabric::launcher {
namespace {

// Packed lists of fuzz inputs.
// clang-format off
const std::vector<std::string> kFlags = {
    "--devices", "--nproc-per-node", "--nproc_per_node", "--num-nodes", "--nnodes",
    "--node-rank", "--main-address", "--master-addr", "--main-port", "--master-port",
    "--rdzv-endpoint", "--rdzv-backend", "--rdzv-conf", "--rdzv-id", "--run-id",
    "--accelerator", "--strategy", "--precision", "--max-restarts", "--grace-period",
    "--hang-timeout", "--join-timeout", "--console-ranks", "--standalone", "--quiet",
    "--redirects", "-r", "--tee", "-t", "--local-ranks-filter", "-m", "--no-python",
    "--signals-to-handle", "--role", "--dry-run", "--log-dir", "--", "-x", "--nope="};
const std::vector<std::string> kValues = {
    "0", "1", "2", "-1", "4", "auto", "cpu", "gpu", "cuda", "1:3", "3:1", "0,2", "0,0",
    "a,b", "ddp", "fsdp", "dp", "bf16-mixed", "16", "1s", "500ms", "-3s", "inf", "nan",
    "host:29400", "[::1]:80", "localhost:0", "::1:80", "h:", ":1", "x=1,y", "join_timeout=5",
    "SIGTERM", "SIGKILL", "0:3,1:x", "", " ", "\xff\xfe", std::string(300, 'a')};
// clang-format on

std::string RandomString(std::mt19937& rng) {
  std::string s;
  const int n = static_cast<int>(rng() % 24);
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(rng() % 256));
  return s;
}

TEST(ParsersFuzzTest, CommandLinesGiveOkOrOneInvalidArgumentLine) {
  std::mt19937 rng(7);
  int ok = 0, refused = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<std::string> args;
    const int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      const int pick = static_cast<int>(rng() % 10);
      if (pick < 5) {
        args.push_back(kFlags[rng() % kFlags.size()]);
      } else if (pick < 9) {
        args.push_back(kValues[rng() % kValues.size()]);
      } else {
        args.push_back(RandomString(rng));
      }
    }
    args.push_back("/bin/true");
    EnvMap env = {{"PATH", "/bin:/usr/bin"}};
    if (rng() % 3 == 0) env["PET_NNODES"] = kValues[rng() % kValues.size()];
    if (rng() % 3 == 0) env["FABRIC_DEVICES"] = kValues[rng() % kValues.size()];
    if (rng() % 4 == 0) {
      env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
      env["MASTER_ADDR"] = kValues[rng() % kValues.size()];
      env["MASTER_PORT"] = kValues[rng() % kValues.size()];
      env["JOB_COMPLETION_INDEX"] = kValues[rng() % kValues.size()];
    }
    MachineFacts machine;
    machine.nvidia_gpus = static_cast<int>(rng() % 3);
    machine.cpus = 1 + static_cast<int>(rng() % 4);
    const Personality who = rng() % 2 ? Personality::kTorchrun : Personality::kFabricRun;
    absl::StatusOr<CliResult> r = ParseCommandLine(args, env, machine, who);
    if (r.ok()) {
      ++ok;
      continue;
    }
    ++refused;
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    ASSERT_FALSE(absl::StrContains(r.status().message(), "\n")) << r.status();
    ASSERT_FALSE(r.status().message().empty());
  }
  EXPECT_GT(ok, 100);  // not vacuous: both outcomes are exercised
  EXPECT_GT(refused, 100);
}

TEST(ParsersFuzzTest, FileTimerLinesGiveARequestOrInvalidArgument) {
  std::mt19937 rng(11);
  const std::string valid =
      R"({"version": 1, "pid": 4242, "scope_id": "step", "expiration_time": 1700000002.5, "signal": 9})";
  int ok = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string line = valid;
    const int edits = static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !line.empty(); ++e) {
      const size_t at = rng() % line.size();
      switch (rng() % 3) {
        case 0: line[at] = static_cast<char>(rng() % 256); break;
        case 1: line.erase(at, 1 + rng() % 4); break;
        default: line.insert(at, RandomString(rng)); break;
      }
    }
    absl::StatusOr<FileTimerRequest> r = ParseFileTimerRequest(line);
    if (r.ok()) {
      ++ok;
      ASSERT_GT(r->pid, 0);
    } else {
      ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    }
  }
  EXPECT_GT(ok, 1000);
}

}  // namespace
}  // namespace fabric::launcher
