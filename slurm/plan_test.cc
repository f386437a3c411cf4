#include "slurm/plan.h"

#include <set>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slurm/test_env.h"

namespace fabric::slurm {
namespace {

using ::fabric::slurm::testing::AllocationShellEnv;
using ::fabric::slurm::testing::BatchScriptEnv;
using ::fabric::slurm::testing::Spec;
using ::fabric::slurm::testing::SrunTaskEnv;
using ::fabric::slurm::testing::StepSpec;
using ::testing::AllOf;
using ::testing::HasSubstr;

absl::StatusOr<SlurmPlan> Plan(const EnvMap& env, const PlanRequest& request = {}) {
  return PlanLaunchFromEnv(env, request);
}

PlanRequest Devices(int devices) {
  PlanRequest request;
  request.devices = devices;
  return request;
}

PlanRequest Cuda(std::optional<int> devices = std::nullopt) {
  PlanRequest request;
  request.accelerator = "cuda";
  request.devices = devices;
  return request;
}

EnvMap With(EnvMap env, const std::string& name, const std::string& value) {
  env[name] = value;
  return env;
}

// --- task per device -------------------------------------------------------------------

TEST(PlanLaunchTest, TaskPerDeviceRanksComeFromSlurm) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 3)));
  EXPECT_EQ(plan.layout, Layout::kTaskPerDevice);
  EXPECT_EQ(plan.global_rank, 3);
  EXPECT_EQ(plan.local_rank, 1);
  EXPECT_EQ(plan.node_rank, 1);
  EXPECT_EQ(plan.num_nodes, 2);
  EXPECT_EQ(plan.local_world_size, 2);
  EXPECT_EQ(plan.world_size, 4);
  EXPECT_EQ(plan.main_address, "n1");
  EXPECT_EQ(plan.port_source, PortSource::kDerived);
  EXPECT_EQ(plan.main_port, DeriveMainPort(4242, 0));
  EXPECT_FALSE(plan.binds_main_port);
  EXPECT_EQ(plan.run_id, "slurm-4242.0");
}

TEST(PlanLaunchTest, TaskPerDeviceWorkerEnvIsComplete) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 2), Devices(2)));
  ASSERT_TRUE(plan.worker_env.has_value());
  const EnvMap env = plan.worker_env->ToEnvMap();
  const int port = DeriveMainPort(4242, 0);
  EXPECT_EQ(env.at("RANK"), "2");
  EXPECT_EQ(env.at("LOCAL_RANK"), "0");
  EXPECT_EQ(env.at("WORLD_SIZE"), "4");
  EXPECT_EQ(env.at("LOCAL_WORLD_SIZE"), "2");
  EXPECT_EQ(env.at("GROUP_RANK"), "1");
  EXPECT_EQ(env.at("GROUP_WORLD_SIZE"), "2");
  EXPECT_EQ(env.at("MASTER_ADDR"), "n1");
  EXPECT_EQ(env.at("MASTER_PORT"), std::to_string(port));
  EXPECT_EQ(env.at("TORCHELASTIC_RUN_ID"), "slurm-4242.0");
  EXPECT_EQ(env.at("TORCHELASTIC_MAX_RESTARTS"), "0");
  EXPECT_EQ(env.at("LT_DEVICES"), "2");
  EXPECT_EQ(env.at("LT_NUM_NODES"), "2");
  // Not given on the command line: not exported (Lightning's `fabric run` rule).
  EXPECT_EQ(env.count("LT_ACCELERATOR"), 0u);
  EXPECT_EQ(env.count("LT_STRATEGY"), 0u);
  EXPECT_EQ(env.count("LT_PRECISION"), 0u);
  EXPECT_EQ(env.at("OMP_NUM_THREADS"), "1");         // two workers share the node
  EXPECT_EQ(env.count("CUDA_VISIBLE_DEVICES"), 0u);  // inherited as SLURM set it
  // The runtime's reader accepts it.
  FABRIC_ASSERT_OK_AND_ASSIGN(WorkerEnv read, WorkerEnv::FromEnvMap(env));
  EXPECT_EQ(read.rank, 2);
  EXPECT_EQ(read.world_size, 4);
}

TEST(PlanLaunchTest, EveryTaskOfAStepAgrees) {
  StepSpec spec;
  spec.nodelist = "rack[1-2]-node[01-02]";
  spec.tasks_per_node = "4(x4)";
  spec.job_id = 987654;
  spec.step_id = 3;
  std::set<int> ranks;
  std::set<std::string> endpoints;
  int binders = 0;
  for (int procid = 0; procid < 16; ++procid) {
    FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv(spec, procid), Devices(4)));
    ranks.insert(*plan.global_rank);
    endpoints.insert(absl::StrCat(plan.main_address, ":", plan.main_port));
    binders += plan.binds_main_port;
    EXPECT_EQ(plan.world_size, 16);
    EXPECT_EQ(plan.node_rank, procid / 4);
    EXPECT_EQ(*plan.local_rank, procid % 4);
  }
  EXPECT_EQ(ranks.size(), 16u);
  EXPECT_EQ(*ranks.begin(), 0);
  EXPECT_EQ(*ranks.rbegin(), 15);
  EXPECT_EQ(endpoints,
            std::set<std::string>{absl::StrCat("rack1-node01:", DeriveMainPort(987654, 3))});
  EXPECT_EQ(binders, 1);
}

TEST(PlanLaunchTest, OnlyTaskZeroBindsTheMainPort) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 0)));
  EXPECT_TRUE(plan.binds_main_port);
}

TEST(PlanLaunchTest, HeterogeneousTasksPerNodeGiveLocalWorldSizes) {
  StepSpec spec;
  spec.nodelist = "n[1-4]";
  spec.tasks_per_node = "2(x3),1";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan last, Plan(SrunTaskEnv(spec, 6)));
  EXPECT_EQ(last.layout, Layout::kTaskPerDevice);
  EXPECT_EQ(last.local_world_size, 1);
  EXPECT_EQ(last.world_size, 7);
  EXPECT_EQ(last.node_rank, 3);
  EXPECT_EQ(last.worker_env->ToEnvMap().count("OMP_NUM_THREADS"), 0u);  // alone on its node
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan first, Plan(SrunTaskEnv(spec, 1)));
  EXPECT_EQ(first.local_world_size, 2);
  EXPECT_EQ(first.worker_env->ToEnvMap().at("LOCAL_WORLD_SIZE"), "2");
}

TEST(PlanLaunchTest, OneTaskPerNodeOnCpuIsOneWorkerPerTask) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv(Spec("n[1-3]", "1(x3)"), 1)));
  EXPECT_EQ(plan.layout, Layout::kTaskPerDevice);
  EXPECT_EQ(plan.world_size, 3);
  EXPECT_EQ(plan.local_world_size, 1);
}

TEST(PlanLaunchTest, OmpThreadsFollowCpusPerTaskAndNeverOverrideTheUser) {
  EnvMap env = With(SrunTaskEnv({}, 0), "SLURM_CPUS_PER_TASK", "6");
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(env));
  EXPECT_EQ(plan.worker_env->omp_num_threads, "6");
  FABRIC_ASSERT_OK_AND_ASSIGN(plan, Plan(With(env, "OMP_NUM_THREADS", "3")));
  EXPECT_FALSE(plan.worker_env->omp_num_threads.has_value());
}

TEST(PlanLaunchTest, RequestFieldsReachTheWorkerEnv) {
  PlanRequest request;
  request.run_id = "exp-7";
  request.strategy = "ddp";
  request.precision = "bf16-mixed";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 0), request));
  const EnvMap env = plan.worker_env->ToEnvMap();
  EXPECT_EQ(plan.run_id, "exp-7");
  EXPECT_EQ(env.at("TORCHELASTIC_RUN_ID"), "exp-7");
  EXPECT_EQ(env.at("LT_STRATEGY"), "ddp");
  EXPECT_EQ(env.at("LT_PRECISION"), "bf16-mixed");
}

TEST(PlanLaunchTest, TaskZeroOffTheFirstNodeIsAnError) {
  EnvMap env = SrunTaskEnv({}, 0);
  env["SLURM_NODEID"] = "1";  // e.g. -m arbitrary
  env["SLURMD_NODENAME"] = "n2";
  EXPECT_THAT(Plan(env), StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("SLURM placed task 0 on node 1 (n2), not on the "
                                            "step's first host n1")));
}

// --- task per node ---------------------------------------------------------------------

TEST(PlanLaunchTest, TaskPerNodeSpawnsDevicesWorkers) {
  StepSpec spec = Spec("gpu[07-08]", "1(x2)");
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv(spec, 1), Devices(4)));
  EXPECT_EQ(plan.layout, Layout::kTaskPerNode);
  EXPECT_EQ(plan.node_rank, 1);
  EXPECT_EQ(plan.num_nodes, 2);
  EXPECT_EQ(plan.local_world_size, 4);
  EXPECT_EQ(plan.world_size, 8);
  EXPECT_EQ(plan.main_address, "gpu07");
  EXPECT_FALSE(plan.global_rank.has_value());
  EXPECT_FALSE(plan.worker_env.has_value());
  EXPECT_FALSE(plan.binds_main_port);
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan node0, Plan(SrunTaskEnv(spec, 0), Devices(4)));
  EXPECT_TRUE(node0.binds_main_port);
  EXPECT_EQ(node0.main_port, plan.main_port);
}

TEST(PlanLaunchTest, CudaDevicesDefaultToGpusSlurmGave) {
  StepSpec spec = Spec("n[1-2]", "1(x2)");
  FABRIC_ASSERT_OK_AND_ASSIGN(
      SlurmPlan plan, Plan(With(SrunTaskEnv(spec, 0), "CUDA_VISIBLE_DEVICES", "0,1,2,3"), Cuda()));
  EXPECT_EQ(plan.layout, Layout::kTaskPerNode);
  EXPECT_EQ(plan.local_world_size, 4);
  FABRIC_ASSERT_OK_AND_ASSIGN(plan,
                              Plan(With(SrunTaskEnv(spec, 0), "SLURM_GPUS_ON_NODE", "2"), Cuda()));
  EXPECT_EQ(plan.local_world_size, 2);
  FABRIC_ASSERT_OK_AND_ASSIGN(plan,
                              Plan(With(SrunTaskEnv(spec, 0), "SLURM_STEP_GPUS", "0"), Cuda()));
  EXPECT_EQ(plan.layout, Layout::kTaskPerDevice);  // one GPU: the task is the worker
}

TEST(PlanLaunchTest, CudaFallsBackToDetectedGpus) {
  StepSpec spec = Spec("n[1-2]", "1(x2)");
  PlanRequest request = Cuda();
  request.detected_gpus = 8;
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv(spec, 0), request));
  EXPECT_EQ(plan.local_world_size, 8);
}

TEST(PlanLaunchTest, CudaWithoutAnyGpuInformationIsAnError) {
  StepSpec spec = Spec("n[1-2]", "1(x2)");
  EXPECT_THAT(Plan(SrunTaskEnv(spec, 0), Cuda()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("request GPUs with `#SBATCH --gpus-per-node=N`, or pass "
                                 "--devices N")));
}

TEST(PlanLaunchTest, CudaWithNoGpuIsAnError) {
  StepSpec spec = Spec("n[1-2]", "1(x2)");
  EXPECT_THAT(Plan(With(SrunTaskEnv(spec, 0), "CUDA_VISIBLE_DEVICES", ""), Cuda()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("SLURM gave node 0 (n1) no GPU (CUDA_VISIBLE_DEVICES=)")));
  EXPECT_THAT(Plan(With(SrunTaskEnv({}, 0), "CUDA_VISIBLE_DEVICES", ""), Cuda()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("add `#SBATCH --gpus-per-node=2`")));
}

TEST(PlanLaunchTest, CudaTaskPerNodeNeedsEnoughGpus) {
  StepSpec spec = Spec("n[1-2]", "1(x2)");
  EXPECT_THAT(Plan(With(SrunTaskEnv(spec, 1), "CUDA_VISIBLE_DEVICES", "0,1"), Cuda(4)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--devices 4 but SLURM gave node 1 (n2) 2 GPUs "
                                 "(CUDA_VISIBLE_DEVICES=0,1): set `#SBATCH --gpus-per-node=4`, "
                                 "or pass --devices 2")));
}

TEST(PlanLaunchTest, CudaTaskPerDeviceAcceptsOneGpuPerTaskOrAllGpus) {
  EXPECT_THAT(Plan(With(SrunTaskEnv({}, 1), "CUDA_VISIBLE_DEVICES", "1"), Cuda(2)), IsOk());
  EXPECT_THAT(Plan(With(SrunTaskEnv({}, 1), "CUDA_VISIBLE_DEVICES", "0,1"), Cuda(2)), IsOk());
  StepSpec four = Spec("n1", "4");
  EXPECT_THAT(Plan(With(SrunTaskEnv(four, 1), "CUDA_VISIBLE_DEVICES", "0,1"), Cuda()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("4 tasks on node 0 (n1) but SLURM gave them 2 GPUs "
                                 "(CUDA_VISIBLE_DEVICES=0,1): set `#SBATCH --gpus-per-node=4`")));
}

// --- mismatches --------------------------------------------------------------------------

TEST(PlanLaunchTest, DevicesDisagreeingWithTasksPerNodeNamesTheSbatchLine) {
  EXPECT_THAT(
      Plan(SrunTaskEnv({}, 0), Devices(4)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "--devices 4 but this srun step runs 2 tasks on node 0 (n1): set `#SBATCH "
               "--ntasks-per-node=4` (one task per device) or `--ntasks-per-node=1` (one task "
               "per node, fabric-run spawns the 4 workers)"));
}

TEST(PlanLaunchTest, HeterogeneousMismatchNamesTheOddNode) {
  StepSpec spec = Spec("n[1-4]", "2(x3),1");
  // Task 0's own node agrees; node 3 does not.
  EXPECT_THAT(Plan(SrunTaskEnv(spec, 0), Devices(2)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("--devices 2 but this srun step runs 1 task on node 3 "
                                       "(n4) (tasks per node: 2(x3),1)"),
                             HasSubstr("`#SBATCH --ntasks-per-node=2`"))));
  // Every task fails, not only the ones on the odd node.
  EXPECT_THAT(Plan(SrunTaskEnv(spec, 6), Devices(2)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("node 3 (n4)")));
}

TEST(PlanLaunchTest, NumNodesDisagreeingWithTheStep) {
  PlanRequest request;
  request.num_nodes = 4;
  EXPECT_THAT(Plan(SrunTaskEnv({}, 1), request),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "--num-nodes 4 but this srun step runs on 2 nodes (n[1-2]): set `#SBATCH "
                       "--nodes=4` (and `srun -N 4` if you pass -N), or pass --num-nodes 2"));
  request.num_nodes = 2;
  EXPECT_THAT(Plan(SrunTaskEnv({}, 1), request), IsOk());
}

TEST(PlanLaunchTest, NodeRankMustMatchSlurm) {
  PlanRequest request;
  request.node_rank = 1;
  EXPECT_THAT(Plan(SrunTaskEnv({}, 3), request), IsOk());  // task 3 runs on node 1
  EXPECT_THAT(Plan(SrunTaskEnv({}, 0), request),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "--node-rank 1 but this srun task runs on node 0 (n1, SLURM_NODEID=0): "
                       "drop --node-rank under srun, SLURM numbers the nodes"));
  request.node_rank = -1;
  EXPECT_THAT(Plan(SrunTaskEnv({}, 0), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--node-rank -1")));
}

TEST(PlanLaunchTest, InvalidRequestsAreInvalidArgument) {
  EXPECT_THAT(Plan(SrunTaskEnv({}, 0), Devices(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--devices 0")));
  PlanRequest request;
  request.num_nodes = 0;
  EXPECT_THAT(Plan(SrunTaskEnv({}, 0), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--num-nodes 0")));
  request = {};
  request.main_port = 65536;
  EXPECT_THAT(Plan(SrunTaskEnv({}, 0), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--main-port 65536")));
}

TEST(PlanLaunchTest, ParseErrorsPropagate) {
  EXPECT_THAT(Plan(With(SrunTaskEnv({}, 0), "SLURM_STEP_NODELIST", "n[1-")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("never closed")));
}

// --- outside srun -------------------------------------------------------------------------

TEST(PlanLaunchTest, BatchScriptIsNotAnSrunStep) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(BatchScriptEnv({}), Devices(4)));
  EXPECT_EQ(plan.layout, Layout::kNotSlurm);
  EXPECT_EQ(plan.note,
            "SLURM job 4242: in the batch script, not an srun step: launching on this node only "
            "(the allocation has 2 nodes: run `srun fabric-run ...` to use them all)");
}

TEST(PlanLaunchTest, MultiNodeRequestOutsideSrunIsAnError) {
  PlanRequest request;
  request.num_nodes = 2;
  EXPECT_THAT(Plan(AllocationShellEnv({}), request),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("--num-nodes 2 in the salloc shell of SLURM job 4242, "
                                       "outside srun"),
                             HasSubstr("`srun --ntasks-per-node=1 fabric-run ...`"))));
  request.num_nodes = 1;
  EXPECT_THAT(Plan(AllocationShellEnv({}), request), IsOk());
}

TEST(PlanLaunchTest, NotSlurmLeavesEverythingToTheLauncher) {
  PlanRequest request;
  request.num_nodes = 2;  // the launcher's own --node-rank/--main-address apply
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan({{"HOME", "/root"}}, request));
  EXPECT_EQ(plan.layout, Layout::kNotSlurm);
  EXPECT_EQ(plan.note, "not running under SLURM");
  EXPECT_EQ(DescribePlan(plan), "layout=not-slurm note=\"not running under SLURM\"");
}

// --- ports ---------------------------------------------------------------------------------

TEST(PlanLaunchTest, PortFlagWinsOverMasterPortWhichWinsOverDerived) {
  EnvMap env = With(SrunTaskEnv({}, 0), "MASTER_PORT", "29555");
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(env));
  EXPECT_EQ(plan.main_port, 29555);
  EXPECT_EQ(plan.port_source, PortSource::kMasterPortEnv);
  PlanRequest request;
  request.main_port = 31000;
  FABRIC_ASSERT_OK_AND_ASSIGN(plan, Plan(env, request));
  EXPECT_EQ(plan.main_port, 31000);
  EXPECT_EQ(plan.port_source, PortSource::kFlag);
  EXPECT_EQ(plan.worker_env->master_port, 31000);
}

TEST(VerifyMainPortTest, OnlyTheBindingTaskChecks) {
  int calls = 0;
  auto busy = [&calls](int port) {
    ++calls;
    return absl::FailedPreconditionError(absl::StrCat("port ", port, " is in use"));
  };
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan other, Plan(SrunTaskEnv({}, 1)));
  EXPECT_THAT(VerifyMainPort(other, busy), IsOk());
  EXPECT_EQ(calls, 0);
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan not_slurm, Plan({}));
  EXPECT_THAT(VerifyMainPort(not_slurm, busy), IsOk());
  EXPECT_EQ(calls, 0);
}

TEST(VerifyMainPortTest, FreePortPasses) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 0)));
  int checked = 0;
  EXPECT_THAT(VerifyMainPort(plan,
                             [&checked](int port) {
                               checked = port;
                               return absl::OkStatus();
                             }),
              IsOk());
  EXPECT_EQ(checked, plan.main_port);
}

TEST(VerifyMainPortTest, BusyPortNamesSourceAndFix) {
  auto busy = [](int port) {
    return absl::FailedPreconditionError(absl::StrCat("port ", port, " is in use"));
  };
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 0)));
  EXPECT_THAT(VerifyMainPort(plan, busy),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("main port ", plan.main_port,
                                    " (derived from job and step id) is not free on n1 (port ",
                                    plan.main_port,
                                    " is in use): export MASTER_PORT=<free port> in the sbatch "
                                    "script, or pass --main-port")));
  PlanRequest request;
  request.main_port = 30000;
  FABRIC_ASSERT_OK_AND_ASSIGN(plan, Plan(SrunTaskEnv({}, 0), request));
  EXPECT_THAT(VerifyMainPort(plan, busy),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("(--main-port) is not free on n1 (port 30000 is in use): pass "
                                 "another --main-port")));
}

TEST(PlanLaunchTest, MainAddressFlagWinsOverTheFirstHost) {
  PlanRequest request;
  request.main_address = "n1-ib0";  // e.g. the InfiniBand name of the first node
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 3), request));
  EXPECT_EQ(plan.main_address, "n1-ib0");
  EXPECT_EQ(plan.worker_env->master_addr, "n1-ib0");
  request.main_address = "";
  EXPECT_THAT(Plan(SrunTaskEnv({}, 3), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--main-address")));
}

TEST(DeriveMainPortTest, StaysInItsRangeBelowEphemeralPorts) {
  for (int64_t job :
       {int64_t{0}, int64_t{1}, int64_t{17748}, int64_t{17749}, int64_t{123456789}, INT64_MAX}) {
    for (int64_t step : {int64_t{0}, int64_t{1}, int64_t{4294967294}, INT64_MAX}) {
      const int port = DeriveMainPort(job, step);
      EXPECT_GE(port, kDerivedPortBase);
      EXPECT_LT(port, kDerivedPortBase + kDerivedPortRange);
      EXPECT_LT(port, 32768);
    }
  }
}

TEST(DeriveMainPortTest, IsDeterministicAndSeparatesNeighbours) {
  EXPECT_EQ(DeriveMainPort(4242, 1), DeriveMainPort(4242, 1));
  std::set<int> ports;
  for (int64_t job = 1000; job < 1100; ++job) {
    for (int64_t step = 0; step < 8; ++step) ports.insert(DeriveMainPort(job, step));
  }
  EXPECT_EQ(ports.size(), 800u);  // 100 consecutive jobs x 8 steps: no collision
}

TEST(DescribePlanTest, NamesEveryField) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmPlan plan, Plan(SrunTaskEnv({}, 1)));
  EXPECT_EQ(DescribePlan(plan),
            absl::StrCat("layout=task-per-device node_rank=0 num_nodes=2 local_world_size=2 "
                         "world_size=4 rank=1 local_rank=1 main_address=n1 main_port=",
                         DeriveMainPort(4242, 0),
                         " port_source=\"derived from job and step id\" binds_main_port=0 "
                         "run_id=slurm-4242.0 nodes=n[1-2]"));
}

TEST(LayoutNameTest, NamesEveryLayout) {
  EXPECT_EQ(LayoutName(Layout::kNotSlurm), "not-slurm");
  EXPECT_EQ(LayoutName(Layout::kTaskPerDevice), "task-per-device");
  EXPECT_EQ(LayoutName(Layout::kTaskPerNode), "task-per-node");
  EXPECT_EQ(PortSourceName(PortSource::kFlag), "--main-port");
  EXPECT_EQ(PortSourceName(PortSource::kMasterPortEnv), "MASTER_PORT");
}

}  // namespace
}  // namespace fabric::slurm
