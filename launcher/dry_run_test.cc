#include "launcher/dry_run.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/cli.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

LaunchOptions Parse(std::vector<std::string> args, const EnvMap& env) {
  absl::StatusOr<CliResult> r = ParseCommandLine(args, env);
  EXPECT_THAT(r, IsOk());
  return r.ok() ? r->options : LaunchOptions{};
}

// An srun step of 2 nodes, one task each (task per node), seen from node 1's task.
EnvMap SrunTaskPerNode() {
  return {{"PATH", "/bin:/usr/bin"},
          {"SLURM_JOB_ID", "77"},
          {"SLURM_STEP_ID", "0"},
          {"SLURM_PROCID", "1"},
          {"SLURM_NTASKS", "2"},
          {"SLURM_NNODES", "2"},
          {"SLURM_NODEID", "1"},
          {"SLURM_LOCALID", "0"},
          {"SLURM_STEP_NODELIST", "n[1-2]"},
          {"SLURM_STEP_NUM_NODES", "2"},
          {"SLURM_STEP_NUM_TASKS", "2"},
          {"SLURM_STEP_TASKS_PER_NODE", "1(x2)"},
          {"SLURM_TASKS_PER_NODE", "1(x2)"},
          {"SLURM_JOB_NODELIST", "n[1-2]"},
          {"SLURM_NODELIST", "n[1-2]"},
          {"SLURM_CPUS_ON_NODE", "4"},
          {"SLURM_JOB_NUM_NODES", "2"}};
}

TEST(DryRunTest, EachSettingNamesItsSource) {
  EnvMap env = {{"PATH", "/bin:/usr/bin"},
                {"PET_MAX_RESTARTS", "2"},
                {"KUBERNETES_SERVICE_HOST", "10.96.0.1"}};
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string text,
                              DescribeLaunch(Parse({"--devices", "2", "/bin/true"}, env), env));
  EXPECT_THAT(text, HasSubstr("devices = 2  (--devices)"));
  EXPECT_THAT(text, HasSubstr("max-restarts = 2  (PET_MAX_RESTARTS)"));
  EXPECT_THAT(text, HasSubstr("grace-period = 20s  (Kubernetes pod)"));
  EXPECT_THAT(text, HasSubstr("role = default  (default)"));
  EXPECT_THAT(text, HasSubstr("worker 1: RANK=1 LOCAL_RANK=1 WORLD_SIZE=2"));
  EXPECT_THAT(text, Not(HasSubstr("SLURM")));
}

TEST(DryRunTest, SlurmFillsInWhatWasNotGiven) {
  const EnvMap env = SrunTaskPerNode();
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string text,
                              DescribeLaunch(Parse({"--devices", "2", "/bin/true"}, env), env));
  EXPECT_THAT(text, HasSubstr("devices = 2  (--devices)"));
  EXPECT_THAT(text, HasSubstr("num-nodes = 2  (SLURM)"));
  EXPECT_THAT(text, HasSubstr("node-rank = 1  (SLURM)"));
  EXPECT_THAT(text, HasSubstr("main-address = n1  (SLURM)"));
  EXPECT_THAT(text, HasSubstr("run-id = slurm-77"));
  EXPECT_THAT(text, HasSubstr("worker 1: RANK=3 LOCAL_RANK=1 WORLD_SIZE=4"));
  EXPECT_THAT(text, HasSubstr("SLURM: layout=task-per-node"));
  EXPECT_THAT(text, HasSubstr("rendezvous auth: munge"));
}

TEST(DryRunTest, RendezvousAuthIsTheRunsDecision) {
  const EnvMap env = {{"PATH", "/bin:/usr/bin"}};
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string text,
                              DescribeLaunch(Parse({"--num-nodes", "2", "/bin/true"}, env), env));
  EXPECT_THAT(text, HasSubstr("rendezvous auth: none"));  // 127.0.0.1
  FABRIC_ASSERT_OK_AND_ASSIGN(
      text, DescribeLaunch(Parse({"--num-nodes", "2", "--main-address", "192.0.2.1", "--rdzv-token",
                                  "t", "/bin/true"},
                                 env),
                           env));
  EXPECT_THAT(text, HasSubstr("rendezvous auth: token"));
  EXPECT_THAT(text, Not(HasSubstr("  rdzv-token")));
  EXPECT_THAT(
      DescribeLaunch(Parse({"--num-nodes", "2", "--main-address", "192.0.2.1", "/bin/true"}, env),
                     env),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--rdzv-insecure")));
  FABRIC_ASSERT_OK_AND_ASSIGN(
      text, DescribeLaunch(Parse({"--num-nodes", "2", "--main-address", "192.0.2.1",
                                  "--rdzv-insecure", "/bin/true"},
                                 env),
                           env));
  EXPECT_THAT(text, HasSubstr("rendezvous auth: none"));
  // One node: no rendezvous, no line.
  FABRIC_ASSERT_OK_AND_ASSIGN(text, DescribeLaunch(Parse({"/bin/true"}, env), env));
  EXPECT_THAT(text, Not(HasSubstr("rendezvous auth")));
}

TEST(DryRunTest, SlurmMismatchIsTheRunsError) {
  const EnvMap env = SrunTaskPerNode();
  // 3 nodes asked for inside a 2-node step: refused as the real run would be.
  EXPECT_THAT(DescribeLaunch(Parse({"--num-nodes", "3", "/bin/true"}, env), env),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("3")));
}

}  // namespace
}  // namespace fabric::launcher
