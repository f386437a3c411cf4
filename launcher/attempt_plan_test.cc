#include "launcher/attempt_plan.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::Contains;

LaunchOptions FourDevices() {
  LaunchOptions o;
  o.devices = 4;
  o.devices_spec = "4";
  o.max_restarts = 2;
  return o;
}

TEST(PlanLocalAttemptTest, RanksAndFreshPortPerAttempt) {
  FABRIC_ASSERT_OK_AND_ASSIGN(NodePlacement p0, PlanLocalAttempt(FourDevices(), "r", 0));
  FABRIC_ASSERT_OK_AND_ASSIGN(NodePlacement p1, PlanLocalAttempt(FourDevices(), "r", 1));
  EXPECT_EQ(p0.world_size, 4);
  EXPECT_EQ(p0.local_world_size, 4);
  EXPECT_EQ(p1.restart_count, 1);
  EXPECT_GT(p0.master_port, 0);
  EXPECT_GT(p1.master_port, 0);
}

TEST(PlanLocalAttemptTest, NeverReusesAnEarlierAttemptsPort) {
  std::set<int> used;
  for (int i = 0; i < 20; ++i) {
    FABRIC_ASSERT_OK_AND_ASSIGN(NodePlacement p, PlanLocalAttempt(FourDevices(), "r", i, used));
    EXPECT_EQ(used.count(p.master_port), 0u);
    used.insert(p.master_port);
  }
}

TEST(WorkerEnvironmentTest, SetsTorchrunAndLightningVariables) {
  NodePlacement plan;
  plan.run_id = "job7";
  plan.restart_count = 1;
  plan.max_restarts = 2;
  plan.local_world_size = 4;
  plan.world_size = 4;
  plan.master_port = 4567;
  EnvMap env = WorkerEnvironment(FourDevices(), plan, 2, "/tmp/e.json",
                                 {{"PATH", "/bin"}, {"RANK", "stale"}});
  EXPECT_EQ(env["PATH"], "/bin");
  EXPECT_EQ(env["RANK"], "2");
  EXPECT_EQ(env["LOCAL_RANK"], "2");
  EXPECT_EQ(env["WORLD_SIZE"], "4");
  EXPECT_EQ(env["MASTER_PORT"], "4567");
  EXPECT_EQ(env["TORCHELASTIC_RUN_ID"], "job7");
  EXPECT_EQ(env["TORCHELASTIC_RESTART_COUNT"], "1");
  EXPECT_EQ(env["TORCHELASTIC_MAX_RESTARTS"], "2");
  EXPECT_EQ(env["TORCHELASTIC_ERROR_FILE"], "/tmp/e.json");
  EXPECT_EQ(env["OMP_NUM_THREADS"], "1");
  EXPECT_EQ(env["TORCHELASTIC_SIGNALS_TO_HANDLE"], "SIGTERM,SIGINT,SIGHUP,SIGQUIT");
  EXPECT_EQ(env["TORCH_NCCL_ASYNC_ERROR_HANDLING"], "1");
  EXPECT_EQ(env["LT_CLI_USED"], "1");
  EXPECT_EQ(env["LT_DEVICES"], "4");
  EXPECT_EQ(env.count("CUDA_VISIBLE_DEVICES"), 0u);
}

TEST(WorkerEnvironmentTest, UserOmpNumThreadsWins) {
  NodePlacement plan;
  plan.local_world_size = 4;
  plan.world_size = 4;
  EnvMap env =
      WorkerEnvironment(FourDevices(), plan, 0, "",
                        {{"OMP_NUM_THREADS", "8"}, {"TORCH_NCCL_ASYNC_ERROR_HANDLING", "3"}});
  EXPECT_EQ(env["OMP_NUM_THREADS"], "8");
  EXPECT_EQ(env["TORCH_NCCL_ASYNC_ERROR_HANDLING"], "3");  // inherited wins, as in torchrun
  EXPECT_EQ(env.count("TORCHELASTIC_ERROR_FILE"), 0u);
}

TEST(WorkerEnvironmentTest, SingleWorkerGetsNoOmpDefault) {
  NodePlacement plan;
  LaunchOptions o;
  EnvMap env = WorkerEnvironment(o, plan, 0, "", {});
  EXPECT_EQ(env.count("OMP_NUM_THREADS"), 0u);
}

TEST(WorkerEnvironmentTest, DeviceListBecomesCudaVisibleDevices) {
  LaunchOptions o;
  o.devices = 2;
  o.devices_spec = "1,3";
  o.device_ids = std::vector<int>{1, 3};
  NodePlacement plan;
  plan.local_world_size = 2;
  plan.world_size = 2;
  EnvMap env = WorkerEnvironment(o, plan, 1, "", {});
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "1,3");
  // Each worker sees 2 GPUs: Lightning (which indexes visible devices) is told 2, not
  // "1,3", which would name a device it cannot see.
  EXPECT_EQ(env["LT_DEVICES"], "2");
}

TEST(WorkerEnvironmentTest, DeviceListIndexesAnInheritedCudaVisibleDevices) {
  // SLURM (or the user) gave this agent GPUs 4-7; --devices 1,3 means the 2nd and 4th.
  LaunchOptions o;
  o.devices = 2;
  o.devices_spec = "1,3";
  o.device_ids = std::vector<int>{1, 3};
  NodePlacement plan;
  plan.local_world_size = 2;
  plan.world_size = 2;
  EXPECT_EQ(WorkerEnvironment(o, plan, 0, "", {{"CUDA_VISIBLE_DEVICES", "4,5,6,7"}})
                .at("CUDA_VISIBLE_DEVICES"),
            "5,7");
  EXPECT_EQ(WorkerEnvironment(o, plan, 0, "", {{"CUDA_VISIBLE_DEVICES", "GPU-a,GPU-b,GPU-c,GPU-d"}})
                .at("CUDA_VISIBLE_DEVICES"),
            "GPU-b,GPU-d");
}

TEST(EnvToStringsTest, JoinsKeyAndValue) {
  EXPECT_THAT(EnvToStrings({{"A", "1"}, {"B", "x=y"}}), Contains("B=x=y"));
}

TEST(WorkerEnvironmentTest, SrunTaskVariablesDescribeTheWorkerNotTheAgent) {
  // The agent is srun task 1 of 2 (one per node); its 4 workers are ranks 4-7 of 8.
  NodePlacement plan;
  plan.node_rank = 1;
  plan.num_nodes = 2;
  plan.global_rank_base = 4;
  plan.local_world_size = 4;
  plan.world_size = 8;
  const EnvMap agent = {{"SLURM_STEP_ID", "0"}, {"SLURM_PROCID", "1"}, {"SLURM_LOCALID", "0"},
                        {"SLURM_NODEID", "1"},  {"SLURM_NTASKS", "2"}, {"SLURM_NNODES", "2"},
                        {"SLURM_JOB_ID", "77"}};
  EnvMap env = WorkerEnvironment(FourDevices(), plan, 3, "", agent);
  EXPECT_EQ(env["SLURM_PROCID"], "7");
  EXPECT_EQ(env["SLURM_LOCALID"], "3");
  EXPECT_EQ(env["SLURM_NODEID"], "1");
  EXPECT_EQ(env["SLURM_NTASKS"], "8");
  EXPECT_EQ(env["SLURM_NPROCS"], "8");
  EXPECT_EQ(env["SLURM_NTASKS_PER_NODE"], "4");
  EXPECT_EQ(env["SLURM_NNODES"], "2");
  EXPECT_EQ(env["SLURM_JOB_ID"], "77");  // job facts stay
  EXPECT_EQ(env["RANK"], "7");
}

TEST(WorkerEnvironmentTest, OutsideAnSrunStepSlurmVariablesAreLeftAlone) {
  // A batch script has SLURM_PROCID but no step: nothing is rewritten (negative control).
  NodePlacement plan;
  plan.local_world_size = 4;
  plan.world_size = 4;
  EnvMap env =
      WorkerEnvironment(FourDevices(), plan, 3, "", {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
  EXPECT_EQ(env["SLURM_PROCID"], "0");
  EXPECT_EQ(env["SLURM_NTASKS"], "1");
  EXPECT_EQ(env.count("SLURM_NTASKS_PER_NODE"), 0u);
}

TEST(WorkerEnvironmentTest, TorchrunRoleAndVirtualLocalRank) {
  LaunchOptions o = FourDevices();
  o.role = "trainer";
  o.virtual_local_rank = true;
  NodePlacement plan;
  plan.local_world_size = 4;
  plan.world_size = 4;
  EnvMap env = WorkerEnvironment(o, plan, 2, "", {{"CUDA_VISIBLE_DEVICES", "4,5,6,7"}});
  EXPECT_EQ(env["ROLE_NAME"], "trainer");
  EXPECT_EQ(env["RANK"], "2");
  EXPECT_EQ(env["LOCAL_RANK"], "0");            // every worker is local rank 0 ...
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "6");  // ... and sees only its own GPU
}

}  // namespace
}  // namespace fabric::launcher
