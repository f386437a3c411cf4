#include "runtime/config.h"

#include "common/lightning_choices.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

EnvMap Launched(int rank, int world) {
  return {{"RANK", std::to_string(rank)},       {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)}, {"LOCAL_WORLD_SIZE", std::to_string(world)},
          {"MASTER_ADDR", "127.0.0.1"},         {"MASTER_PORT", "29512"}};
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

TEST(ResolveConfigTest, InPlaceRecoveryFromTheLauncher) {
  EnvMap env = Launched(1, 4);
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig plain, ResolveConfig({}, env, false));
  EXPECT_FALSE(plain.recovery_in_place);
  EXPECT_FALSE(plain.replacement);
  env["FABRIC_RECOVERY"] = "in-place";
  env["FABRIC_RECOVERY_REPLACEMENT"] = "1";
  env["FABRIC_RECOVERY_TIMEOUT_S"] = "2.5";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, env, false));
  EXPECT_TRUE(c.recovery_in_place);
  EXPECT_TRUE(c.replacement);
  EXPECT_EQ(c.recovery_timeout, absl::Milliseconds(2500));
  env["FABRIC_RECOVERY"] = "spares";
  absl::StatusOr<RuntimeConfig> bad = ResolveConfig({}, env, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("FABRIC_RECOVERY='spares'"), std::string::npos);
  env["FABRIC_RECOVERY"] = "gang";
  EXPECT_FALSE(ResolveConfig({}, env, false).ok()) << "a replacement outside in-place mode";
  env.erase("FABRIC_RECOVERY_REPLACEMENT");
  env["FABRIC_RECOVERY_TIMEOUT_S"] = "-1";
  EXPECT_FALSE(ResolveConfig({}, env, false).ok());
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

TEST(ResolveConfigTest, EveryLightningPrecisionResolves) {
  const std::pair<const char*, Precision> cases[] = {
      {"32-true", Precision::k32True},   {"64-true", Precision::k64True},
      {"16-true", Precision::k16True},   {"bf16-true", Precision::kBf16True},
      {"16-mixed", Precision::k16Mixed}, {"bf16-mixed", Precision::kBf16Mixed},
      {"16", Precision::k16Mixed},       {"64", Precision::k64True}};
  for (const auto& [name, want] : cases) {
    SCOPED_TRACE(name);
    FabricOptions o;
    o.precision = name;
    FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig(o, {}, 0));  // all on cpu too
    EXPECT_EQ(c.precision, want);
    EXPECT_EQ(PrecisionName(c.precision), CanonicalPrecision(name).value_or("?"));
  }
}

TEST(ResolveConfigTest, LightningStrategyNamesResolve) {
  EnvMap env = Launched(0, 2);
  env["LT_STRATEGY"] = "ddp_find_unused_parameters_true";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig({}, env, 0));
  EXPECT_EQ(c.strategy, StrategyKind::kDdp);
  EXPECT_TRUE(c.find_unused_parameters);
  env["LT_STRATEGY"] = "fsdp_cpu_offload";
  FABRIC_ASSERT_OK_AND_ASSIGN(c, ResolveConfig({}, env, 0));
  EXPECT_EQ(c.strategy, StrategyKind::kFsdp);
  EXPECT_TRUE(c.fsdp.cpu_offload);
  EXPECT_FALSE(c.find_unused_parameters);
  env["LT_STRATEGY"] = "fsdp";
  FABRIC_ASSERT_OK_AND_ASSIGN(c, ResolveConfig({}, env, 0));
  EXPECT_FALSE(c.fsdp.cpu_offload);
  env["LT_STRATEGY"] = "dp";
  EXPECT_THAT(ResolveConfig({}, env, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("LT_STRATEGY='dp'"), HasSubstr("use --strategy ddp"))));
}

TEST(ResolveConfigTest, CudaWithoutAGpuIsRefused) {
  FabricOptions o;
  o.accelerator = "gpu";
  EXPECT_THAT(ResolveConfig(o, {}, 0).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("sees no GPU")));
}

TEST(ResolveConfigTest, EachRankUsesCudaLocalRankOrItsOnlyVisibleGpu) {
  EnvMap env = Launched(1, 2);
  env["LT_ACCELERATOR"] = "cuda";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig two, ResolveConfig({}, env, 2));
  EXPECT_EQ(two.accelerator, Accelerator::kCuda);
  EXPECT_EQ(two.device_index, 1);
  EXPECT_EQ(two.backend, "nccl");
  env["CUDA_VISIBLE_DEVICES"] = "1";  // the launcher narrowed visibility to this rank's GPU
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig one, ResolveConfig({}, env, 1));
  EXPECT_EQ(one.device_index, 0);
  EnvMap third = Launched(2, 3);
  third["LT_ACCELERATOR"] = "cuda";
  EXPECT_THAT(ResolveConfig({}, third, 2).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("LOCAL_RANK=2"), HasSubstr("only 2 GPUs"))));
}

TEST(ResolveConfigTest, BackendFollowsTheAcceleratorUnlessChosen) {
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig cpu, ResolveConfig({}, Launched(0, 2), 0));
  EXPECT_EQ(cpu.backend, "gloo");
  EXPECT_EQ(cpu.device_index, -1);
  FabricOptions o;
  o.accelerator = "cuda";
  o.process_group_backend = "gloo";  // several ranks sharing one GPU
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig shared, ResolveConfig(o, Launched(3, 4), 1));
  EXPECT_EQ(shared.backend, "gloo");
  EXPECT_EQ(shared.device_index, 0);
  FabricOptions nccl_on_cpu;
  nccl_on_cpu.process_group_backend = "nccl";
  EXPECT_THAT(ResolveConfig(nccl_on_cpu, Launched(0, 2), 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs accelerator cuda")));
}

TEST(ResolveConfigTest, RoundComesFromTheLauncher) {
  EnvMap env = Launched(0, 2);
  env["TORCHELASTIC_RESTART_COUNT"] = "2";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig torchrun, ResolveConfig({}, env, 0));
  EXPECT_EQ(torchrun.round, 2);
  env["FABRIC_ROUND"] = "5";  // fabric-run's rendezvous round wins
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig ours, ResolveConfig({}, env, 0));
  EXPECT_EQ(ours.round, 5);
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
  EnvMap env = {{"SLURM_PROCID", "5"},     {"SLURM_NTASKS", "8"},
                {"SLURM_LOCALID", "1"},    {"SLURM_NNODES", "2"},
                {"SLURM_NODEID", "1"},     {"SLURM_JOB_NODELIST", "gpu[07-08]"},
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

TEST(ResolveConfigTest, MoreNcclRanksThanGpusNamesGloo) {
  // fabric-run --devices 2 on a one-GPU machine: both ranks see the same cuda:0.
  EnvMap env = Launched(1, 2);
  env["LT_ACCELERATOR"] = "cuda";
  EXPECT_THAT(ResolveConfig({}, env, 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("LOCAL_RANK=1 of 2 workers"), HasSubstr("only 1 GPU is"),
                             HasSubstr("process_group_backend=gloo"))));
  // Local rank 0 cannot tell a shared GPU from its own: it is placed on cuda:0.
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig zero, ResolveConfig({}, Launched(0, 2), 1));
  EXPECT_EQ(zero.device_index, 0);
  EXPECT_EQ(zero.backend, "nccl");
  // Gloo shares the GPUs round robin.
  FabricOptions gloo;
  gloo.process_group_backend = "gloo";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig shared, ResolveConfig(gloo, env, 1));
  EXPECT_EQ(shared.device_index, 0);
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig third, ResolveConfig(gloo, Launched(3, 4), 2));
  EXPECT_EQ(third.device_index, 1);
  // srun with one GPU bound per task: narrowed, not shared.
  EnvMap srun = {{"SLURM_PROCID", "1"},        {"SLURM_NTASKS", "2"},  {"SLURM_LOCALID", "1"},
                 {"SLURM_JOB_NODELIST", "n1"}, {"SLURM_JOB_ID", "77"}, {"LT_ACCELERATOR", "cuda"}};
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig bound, ResolveConfig({}, srun, 1));
  EXPECT_EQ(bound.device_index, 0);
}

TEST(ResolveConfigTest, CudaInitFailureIsNeverASilentCpuRun) {
  const CudaProbe broken{0, "CUDA driver initialization failed"};
  EXPECT_THAT(ResolveConfig({}, {}, broken).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("accelerator 'auto'"), HasSubstr("failed to initialise"),
                             HasSubstr("CUDA driver initialization failed"),
                             HasSubstr("--accelerator cpu"))));
  FabricOptions cuda;
  cuda.accelerator = "cuda";
  EXPECT_THAT(ResolveConfig(cuda, {}, broken).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("failed to initialise")));
  FabricOptions cpu;
  cpu.accelerator = "cpu";  // asked for the CPU: CUDA's state does not matter
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig(cpu, {}, broken));
  EXPECT_EQ(c.accelerator, Accelerator::kCpu);
  // No CUDA at all (no driver, no build): auto is the CPU, as before.
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig none, ResolveConfig({}, {}, CudaProbe{}));
  EXPECT_EQ(none.accelerator, Accelerator::kCpu);
}

TEST(ResolveConfigTest, InPlaceRecoveryRefusesNccl) {
  EnvMap env = Launched(1, 2);
  env["FABRIC_RECOVERY"] = "in-place";
  env["CUDA_VISIBLE_DEVICES"] = "1";
  EXPECT_THAT(
      ResolveConfig({}, env, 1).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("in-place recovery"), HasSubstr("needs process_group_backend=gloo"),
                     HasSubstr("--recovery gang"))));
  env["FABRIC_RECOVERY_REPLACEMENT"] = "1";  // a replacement is refused the same way
  EXPECT_THAT(ResolveConfig({}, env, 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in-place recovery")));
  FabricOptions gloo;
  gloo.process_group_backend = "gloo";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig c, ResolveConfig(gloo, env, 1));
  EXPECT_TRUE(c.recovery_in_place);
  EXPECT_EQ(c.backend, "gloo");
  env["FABRIC_RECOVERY"] = "gang";  // the gang restart runs NCCL
  env.erase("FABRIC_RECOVERY_REPLACEMENT");
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig gang, ResolveConfig({}, env, 1));
  EXPECT_EQ(gang.backend, "nccl");
}

TEST(CheckSpareBackendTest, SparesRefuseNcclBeforeWaiting) {
  // A spare's environment: no RANK yet (launcher/worker_specs.cc).
  EnvMap env = {{"WORLD_SIZE", "2"},
                {"LOCAL_WORLD_SIZE", "2"},
                {"FABRIC_RECOVERY", "in-place"},
                {"FABRIC_SPARE_FIFO", "/tmp/spare_0_0"}};
  EXPECT_THAT(CheckSpareBackend({}, env, CudaProbe{1, ""}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("spare"), HasSubstr("process_group_backend=gloo"))));
  FabricOptions gloo;
  gloo.process_group_backend = "gloo";
  EXPECT_THAT(CheckSpareBackend(gloo, env, CudaProbe{1, ""}), IsOk());
  EXPECT_THAT(CheckSpareBackend({}, env, CudaProbe{0, ""}), IsOk());  // a CPU job: Gloo
}

TEST(ResolveConfigTest, Bf16MixedGathersFsdpInBf16) {
  FabricOptions o;
  o.precision = "bf16-mixed";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig mixed, ResolveConfig(o, {}, 0));
  EXPECT_TRUE(mixed.fsdp.bf16_gather);
  o.precision = "32-true";
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig full, ResolveConfig(o, {}, 0));
  EXPECT_FALSE(full.fsdp.bf16_gather);
  o.precision = "16-mixed";  // fp16 keeps float32 gathers (the scaler unscales float32)
  FABRIC_ASSERT_OK_AND_ASSIGN(RuntimeConfig half, ResolveConfig(o, {}, 0));
  EXPECT_FALSE(half.fsdp.bf16_gather);
}

}  // namespace
}  // namespace fabric::runtime
