#include "launcher/slurm_launch.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slurm/test_env.h"

namespace fabric::launcher {
namespace {

using ::fabric::slurm::Layout;
using ::fabric::slurm::testing::AllocationShellEnv;
using ::fabric::slurm::testing::BatchScriptEnv;
using ::fabric::slurm::testing::Spec;
using ::fabric::slurm::testing::SrunTaskEnv;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

LaunchOptions Options() {
  LaunchOptions o;
  o.exec_argv = {"/opt/train", "--lr", "0.1"};
  o.program_argv = {"train", "--lr", "0.1"};
  return o;
}

LaunchOptions WithDevices(int n) {
  LaunchOptions o = Options();
  o.devices = n;
  o.devices_spec = absl::StrCat(n);
  o.devices_set = true;
  return o;
}

// --- BuildPlanRequest ------------------------------------------------------------------

TEST(BuildPlanRequestTest, DefaultsAreNotRequests) {
  slurm::PlanRequest r = BuildPlanRequest(Options());
  EXPECT_EQ(r.devices, std::nullopt);
  EXPECT_EQ(r.num_nodes, std::nullopt);
  EXPECT_EQ(r.node_rank, std::nullopt);
  EXPECT_EQ(r.main_address, std::nullopt);
  EXPECT_EQ(r.main_port, std::nullopt);
  EXPECT_EQ(r.run_id, "");
  EXPECT_EQ(r.accelerator, "cpu");
}

TEST(BuildPlanRequestTest, GivenValuesAreRequests) {
  LaunchOptions o = WithDevices(4);
  o.accelerator = "cuda";
  o.strategy = "fsdp";
  o.precision = "bf16-mixed";
  o.min_nodes = o.max_nodes = 2;
  o.num_nodes_set = true;
  o.node_rank = 1;
  o.main_address = "n1-ib";
  o.main_address_set = true;
  o.main_port = 23456;
  o.main_port_set = true;
  o.run_id = "mine";
  o.run_id_set = true;
  slurm::PlanRequest r = BuildPlanRequest(o);
  EXPECT_EQ(r.devices, 4);
  EXPECT_EQ(r.num_nodes, 2);
  EXPECT_EQ(r.node_rank, 1);
  EXPECT_EQ(r.main_address, "n1-ib");
  EXPECT_EQ(r.main_port, 23456);
  EXPECT_EQ(r.run_id, "mine");
  EXPECT_EQ(r.accelerator, "cuda");
  EXPECT_EQ(r.strategy, "fsdp");
  EXPECT_EQ(r.precision, "bf16-mixed");
}

TEST(BuildPlanRequestTest, ElasticRangeLeavesNodesToSlurm) {
  LaunchOptions o = Options();
  o.min_nodes = 1;
  o.max_nodes = 4;
  o.num_nodes_set = false;  // what the CLI sets for 1:4
  EXPECT_EQ(BuildPlanRequest(o).num_nodes, std::nullopt);
}

// --- DecideSlurmLaunch -----------------------------------------------------------------

TEST(DecideSlurmLaunchTest, OutsideSlurmChangesNothing) {
  LaunchOptions o = WithDevices(3);
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d, DecideSlurmLaunch(o, {{"PATH", "/bin"}}));
  EXPECT_EQ(d.action, SlurmDecision::Action::kRunAgent);
  EXPECT_EQ(d.plan.layout, Layout::kNotSlurm);
  EXPECT_EQ(d.launch.devices, 3);
  EXPECT_EQ(d.launch.max_nodes, 1);
  EXPECT_FALSE(d.launch.node_rank.has_value());
  EXPECT_EQ(d.launch.main_address, "127.0.0.1");
}

TEST(DecideSlurmLaunchTest, BatchScriptRunsTheAgentWithANote) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d,
                              DecideSlurmLaunch(WithDevices(2), BatchScriptEnv({})));
  EXPECT_EQ(d.action, SlurmDecision::Action::kRunAgent);
  EXPECT_THAT(d.plan.note, HasSubstr("not an srun step"));
  EXPECT_EQ(d.launch.devices, 2);
}

TEST(DecideSlurmLaunchTest, TaskPerDeviceExecsWithTheWorkerEnvironment) {
  EnvMap env = SrunTaskEnv({}, 3);  // n[1-2], 2 tasks per node
  env["KEEP_ME"] = "1";
  env["RANK"] = "stale";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d, DecideSlurmLaunch(Options(), env));
  EXPECT_EQ(d.action, SlurmDecision::Action::kExec);
  EXPECT_THAT(d.exec_argv, ElementsAre("/opt/train", "--lr", "0.1"));
  EXPECT_EQ(d.exec_env.at("KEEP_ME"), "1");
  EXPECT_EQ(d.exec_env.at("RANK"), "3");
  EXPECT_EQ(d.exec_env.at("LOCAL_RANK"), "1");
  EXPECT_EQ(d.exec_env.at("WORLD_SIZE"), "4");
  EXPECT_EQ(d.exec_env.at("LOCAL_WORLD_SIZE"), "2");
  EXPECT_EQ(d.exec_env.at("GROUP_RANK"), "1");
  EXPECT_EQ(d.exec_env.at("MASTER_ADDR"), "n1");
  EXPECT_EQ(d.exec_env.at("MASTER_PORT"), absl::StrCat(slurm::DeriveMainPort(4242, 0)));
  EXPECT_EQ(d.exec_env.at("SLURM_PROCID"), "3");  // SLURM's own variables stay
}

TEST(DecideSlurmLaunchTest, DefaultDevicesIsNotARequest) {
  // devices = 1 by default; were it passed as --devices 1, 2 tasks per node would be a
  // mismatch. Not given, SLURM's 2 tasks per node decide.
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d, DecideSlurmLaunch(Options(), SrunTaskEnv({}, 0)));
  EXPECT_EQ(d.plan.layout, Layout::kTaskPerDevice);
  EXPECT_EQ(d.plan.local_world_size, 2);
}

TEST(DecideSlurmLaunchTest, TaskPerNodeFillsTheAgentOptions) {
  LaunchOptions o = WithDevices(4);
  o.max_restarts = 2;
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d,
                              DecideSlurmLaunch(o, SrunTaskEnv(Spec("n[1-2]", "1(x2)"), 1)));
  EXPECT_EQ(d.action, SlurmDecision::Action::kRunAgent);
  EXPECT_EQ(d.plan.layout, Layout::kTaskPerNode);
  EXPECT_EQ(d.launch.devices, 4);
  EXPECT_EQ(d.launch.devices_spec, "4");
  EXPECT_EQ(d.launch.min_nodes, 2);
  EXPECT_EQ(d.launch.max_nodes, 2);
  EXPECT_EQ(d.launch.node_rank, 1);
  EXPECT_EQ(d.launch.main_address, "n1");
  EXPECT_EQ(d.launch.main_port, slurm::DeriveMainPort(4242, 0));
  EXPECT_TRUE(d.launch.main_port_set);
  EXPECT_EQ(d.launch.run_id, "slurm-4242.0");
  EXPECT_EQ(d.launch.max_restarts, 2);  // the rest is the user's
  EXPECT_THAT(d.launch.exec_argv, ElementsAre("/opt/train", "--lr", "0.1"));
}

TEST(DecideSlurmLaunchTest, SingleNodeTaskPerNodeIsTheLocalAgent) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d,
                              DecideSlurmLaunch(WithDevices(2), SrunTaskEnv(Spec("n1", "1"), 0)));
  EXPECT_EQ(d.plan.layout, Layout::kTaskPerNode);
  EXPECT_EQ(d.launch.devices, 2);
  EXPECT_EQ(d.launch.max_nodes, 1);
  EXPECT_EQ(d.launch.node_rank, 0);
}

TEST(DecideSlurmLaunchTest, GivenAddressPortAndRunIdWin) {
  LaunchOptions o = WithDevices(2);
  o.main_address = "n2-ib";
  o.main_address_set = true;
  o.main_port = 23000;
  o.main_port_set = true;
  o.run_id = "exp7";
  o.run_id_set = true;
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d,
                              DecideSlurmLaunch(o, SrunTaskEnv(Spec("n[1-2]", "1(x2)"), 0)));
  EXPECT_EQ(d.launch.main_address, "n2-ib");
  EXPECT_EQ(d.launch.main_port, 23000);
  EXPECT_EQ(d.launch.run_id, "exp7");
}

TEST(DecideSlurmLaunchTest, DevicesMismatchIsThePlansError) {
  EXPECT_THAT(DecideSlurmLaunch(WithDevices(4), SrunTaskEnv({}, 0)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--devices 4 but this srun step runs 2 tasks on node 0 (n1)")));
}

TEST(DecideSlurmLaunchTest, NumNodesGivenMustMatchButAnOpenRangeNeedNot) {
  LaunchOptions o = WithDevices(2);
  o.min_nodes = o.max_nodes = 3;
  o.num_nodes_set = true;
  EXPECT_THAT(DecideSlurmLaunch(o, SrunTaskEnv({}, 0)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--num-nodes 3 but this srun step runs on 2 nodes")));
  o.min_nodes = 1;
  o.max_nodes = 4;
  o.num_nodes_set = false;
  EXPECT_THAT(DecideSlurmLaunch(o, SrunTaskEnv({}, 0)), IsOk());
}

TEST(DecideSlurmLaunchTest, NumNodesOutsideSrunIsRefused) {
  LaunchOptions o = Options();
  o.min_nodes = o.max_nodes = 2;
  o.num_nodes_set = true;
  EXPECT_THAT(DecideSlurmLaunch(o, AllocationShellEnv({})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("outside srun")));
}

TEST(DecideSlurmLaunchTest, RequeueIsDoneByNodeZerosAgent) {
  LaunchOptions o = WithDevices(2);
  o.requeue_signal = SIGUSR1;
  const auto spec = Spec("n[1-2]", "1(x2)");
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d0, DecideSlurmLaunch(o, SrunTaskEnv(spec, 0)));
  EXPECT_EQ(d0.requeue_job_id, 4242);
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision d1, DecideSlurmLaunch(o, SrunTaskEnv(spec, 1)));
  EXPECT_EQ(d1.requeue_job_id, std::nullopt);
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmDecision b, DecideSlurmLaunch(o, BatchScriptEnv(spec)));
  EXPECT_EQ(b.requeue_job_id, 4242);
}

TEST(DecideSlurmLaunchTest, RequeueNeedsASlurmJob) {
  LaunchOptions o = Options();
  o.requeue_signal = SIGUSR1;
  EXPECT_THAT(DecideSlurmLaunch(o, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--requeue-on-signal requeues the SLURM job, but SLURM_JOB_ID "
                                 "is not set")));
}

TEST(DecideSlurmLaunchTest, RequeueNeedsTheAgent) {
  LaunchOptions o = Options();
  o.requeue_signal = SIGUSR2;
  EXPECT_THAT(DecideSlurmLaunch(o, SrunTaskEnv({}, 0)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("with one srun task per device fabric-run execs the program "
                                 "(which gets SIGUSR2 itself)")));
}

// --- RequeueSlurmJob: a stand-in scontrol records its arguments ---------------------------

class RequeueSlurmJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR"));
    sigemptyset(&mask_);
  }
  std::string Script(const std::string& name, int code) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\necho \"$@\" > " << dir_ << "/" << name << ".args\nexit "
                        << code << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string Read(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string dir_;
  sigset_t mask_;
};

TEST_F(RequeueSlurmJobTest, RunsScontrolRequeueWithTheJobId) {
  EXPECT_THAT(RequeueSlurmJob(77, mask_, Script("ok_scontrol", 0)), IsOk());
  EXPECT_EQ(Read(dir_ + "/ok_scontrol.args"), "requeue 77\n");
}

TEST_F(RequeueSlurmJobTest, FailureNamesTheCommandAndStatus) {
  EXPECT_THAT(RequeueSlurmJob(78, mask_, Script("bad_scontrol", 3)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("requeue 78 failed (exit code 3)")));
}

TEST_F(RequeueSlurmJobTest, MissingScontrolIsAnError) {
  EXPECT_THAT(RequeueSlurmJob(79, mask_, dir_ + "/no-such-scontrol"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("No such file")));
}

}  // namespace
}  // namespace fabric::launcher
