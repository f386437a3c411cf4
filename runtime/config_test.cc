#include "runtime/config.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

EnvMap Launched(int rank, int world) {
  return {{"RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},
          {"LOCAL_WORLD_SIZE", std::to_string(world)},
          {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", "29512"}};
}

TEST(ResolveConfigTest, NoLauncherIsOneProcessOnCpu) {
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, {}, false));
  EXPECT_EQ(c.world_size, 1);
  EXPECT_EQ(c.rank, 0);
  EXPECT_EQ(c.strategy, StrategyKind::kSingle);
  EXPECT_EQ(c.accelerator, Accelerator::kCpu);
  EXPECT_EQ(c.precision, Precision::k32True);
  EXPECT_EQ(c.source, "none");
}

TEST(ResolveConfigTest, TorchrunEnvironmentGivesRankAndDdp) {
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, Launched(2, 4), false));
  EXPECT_EQ(c.rank, 2);
  EXPECT_EQ(c.world_size, 4);
  EXPECT_EQ(c.local_rank, 2);
  EXPECT_EQ(c.master_port, 29512);
  EXPECT_EQ(c.strategy, StrategyKind::kDdp);
  EXPECT_EQ(c.source, "env");
}

TEST(ResolveConfigTest, LtVariablesConfigureTheRuntime) {
  EnvMap env = Launched(0, 2);
  env["LT_STRATEGY"] = "fsdp";
  env["LT_PRECISION"] = "bf16-mixed";
  env["LT_ACCELERATOR"] = "cpu";
  env["LT_DEVICES"] = "2";
  env["LT_NUM_NODES"] = "1";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, env, false));
  EXPECT_EQ(c.strategy, StrategyKind::kFsdp);
  EXPECT_EQ(c.precision, Precision::kBf16Mixed);
}

TEST(ResolveConfigTest, CodeAgreeingWithLtIsFine) {
  EnvMap env = Launched(0, 2);
  env["LT_PRECISION"] = "bf16";
  FabricOptions o;
  o.precision = "bf16-mixed";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig(o, env, false));
  EXPECT_EQ(c.precision, Precision::kBf16Mixed);
}

TEST(ResolveConfigTest, CodeContradictingLtNamesBothValues) {
  EnvMap env = Launched(0, 2);
  env["LT_STRATEGY"] = "fsdp";
  FabricOptions o;
  o.strategy = "ddp";
  EXPECT_THAT(ResolveConfig(o, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'ddp'"), HasSubstr("LT_STRATEGY='fsdp'"))));
}

TEST(ResolveConfigTest, CodeAtTheDefaultYieldsToLt) {
  // As Lightning: Fabric(strategy="auto") under `--strategy fsdp` runs FSDP.
  EnvMap env = Launched(0, 2);
  env["LT_STRATEGY"] = "fsdp";
  FabricOptions o;
  o.strategy = "auto";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig(o, env, false));
  EXPECT_EQ(c.strategy, StrategyKind::kFsdp);
}

TEST(ResolveConfigTest, CodeChoiceStandsWhenTheLauncherWasSilent) {
  EnvMap env = Launched(0, 2);  // fabric-run without --strategy exports no LT_STRATEGY
  FabricOptions o;
  o.strategy = "fsdp";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig(o, env, false));
  EXPECT_EQ(c.strategy, StrategyKind::kFsdp);
}

TEST(ResolveConfigTest, DevicesContradictingLtIsAnError) {
  EnvMap env = Launched(0, 2);
  env["LT_DEVICES"] = "2";
  FabricOptions o;
  o.devices = "4";
  EXPECT_THAT(ResolveConfig(o, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LT_DEVICES='2'")));
}

TEST(ResolveConfigTest, DevicesDisagreeingWithProcessCountIsAnError) {
  FabricOptions o;
  o.devices = "4";
  EXPECT_THAT(ResolveConfig(o, Launched(0, 2), false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LOCAL_WORLD_SIZE")));
}

TEST(ResolveConfigTest, BadLtValueNamesTheVariable) {
  EnvMap env = Launched(0, 2);
  env["LT_PRECISION"] = "fp8";
  EXPECT_THAT(ResolveConfig({}, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LT_PRECISION='fp8'")));
}

TEST(ResolveConfigTest, BadRankIsAClearError) {
  EnvMap env = Launched(0, 2);
  env["RANK"] = "two";
  EXPECT_THAT(ResolveConfig({}, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RANK")));
}

TEST(ResolveConfigTest, MissingMasterPortIsAClearError) {
  EnvMap env = Launched(0, 2);
  env.erase("MASTER_PORT");
  EXPECT_THAT(ResolveConfig({}, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("MASTER_PORT")));
}

TEST(ResolveConfigTest, SingleStrategyWithSeveralProcessesIsAnError) {
  FabricOptions o;
  o.strategy = "single";
  EXPECT_THAT(ResolveConfig(o, Launched(0, 2), false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("WORLD_SIZE=2")));
}

TEST(ResolveConfigTest, SixteenMixedOnCpuIsRefused) {
  FabricOptions o;
  o.precision = "16-mixed";
  EXPECT_THAT(ResolveConfig(o, {}, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs CUDA")));
}

TEST(ResolveConfigTest, CudaWithoutCudaIsRefused) {
  FabricOptions o;
  o.accelerator = "gpu";
  EXPECT_THAT(ResolveConfig(o, {}, false).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CUDA")));
}

TEST(ResolveConfigTest, OmpNumThreadsIsRespected) {
  EnvMap env = Launched(0, 2);
  env["OMP_NUM_THREADS"] = "1";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, env, false));
  EXPECT_EQ(c.num_threads, 1);
  env["OMP_NUM_THREADS"] = "lots";
  EXPECT_THAT(ResolveConfig({}, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("OMP_NUM_THREADS")));
}

TEST(ResolveConfigTest, SrunWithoutRankUsesSlurmVariables) {
  EnvMap env = {{"SLURM_PROCID", "5"},   {"SLURM_NTASKS", "8"},
                {"SLURM_LOCALID", "1"},  {"SLURM_NNODES", "2"},
                {"SLURM_NODEID", "1"},   {"SLURM_JOB_NODELIST", "gpu[07-08]"},
                {"SLURM_JOB_ID", "123456"}};
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, env, false));
  EXPECT_EQ(c.rank, 5);
  EXPECT_EQ(c.world_size, 8);
  EXPECT_EQ(c.local_rank, 1);
  EXPECT_EQ(c.local_world_size, 4);
  EXPECT_EQ(c.node_rank, 1);
  EXPECT_EQ(c.num_nodes, 2);
  EXPECT_EQ(c.master_addr, "gpu07");
  EXPECT_EQ(c.master_port, 15000 + 3456);
  EXPECT_EQ(c.source, "slurm");
}

TEST(ResolveConfigTest, RankTakesPrecedenceOverSlurm) {
  EnvMap env = Launched(1, 2);
  env["SLURM_PROCID"] = "7";
  env["SLURM_NTASKS"] = "8";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, env, false));
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.world_size, 2);
}

TEST(ResolveConfigTest, SrunWithoutAddressIsAClearError) {
  EnvMap env = {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_ID", "1"}};
  EXPECT_THAT(ResolveConfig({}, env, false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("MASTER_ADDR")));
}

TEST(FirstHostOfHostlistTest, Forms) {
  EXPECT_EQ(FirstHostOfHostlist("a,b").value_or(""), "a");
  EXPECT_EQ(FirstHostOfHostlist("node[07-09,12]").value_or(""), "node07");
  EXPECT_EQ(FirstHostOfHostlist("solo").value_or(""), "solo");
  EXPECT_THAT(FirstHostOfHostlist("bad[").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("malformed")));
  EXPECT_THAT(FirstHostOfHostlist("").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

}  // namespace
}  // namespace fabric::runtime
