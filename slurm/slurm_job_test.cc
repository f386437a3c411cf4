#include "slurm/slurm_job.h"

#include <string>
#include <vector>

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
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DetectSlurmContextTest, NoJobIdIsNotSlurm) {
  EXPECT_EQ(DetectSlurmContext({{"PATH", "/bin"}}), SlurmContext::kNotSlurm);
  // A stray SLURM_PROCID without a job is not SLURM either.
  EXPECT_EQ(DetectSlurmContext({{"SLURM_PROCID", "0"}}), SlurmContext::kNotSlurm);
}

TEST(DetectSlurmContextTest, JobWithoutProcidIsAllocationShell) {
  EXPECT_EQ(DetectSlurmContext(AllocationShellEnv({})), SlurmContext::kAllocationShell);
}

TEST(DetectSlurmContextTest, JobNameBashDoesNotMatter) {
  StepSpec spec;
  spec.job_name = "bash";
  EXPECT_EQ(DetectSlurmContext(AllocationShellEnv(spec)), SlurmContext::kAllocationShell);
  EXPECT_EQ(DetectSlurmContext(SrunTaskEnv(spec, 0)), SlurmContext::kSrunTask);
}

TEST(DetectSlurmContextTest, ProcidWithoutStepIsBatchScript) {
  EXPECT_EQ(DetectSlurmContext(BatchScriptEnv({})), SlurmContext::kBatchScript);
}

TEST(DetectSlurmContextTest, StepAndProcidIsSrunTask) {
  EXPECT_EQ(DetectSlurmContext(SrunTaskEnv({}, 3)), SlurmContext::kSrunTask);
}

TEST(DetectSlurmContextTest, OldSpellingsAreRecognised) {
  EXPECT_EQ(
      DetectSlurmContext({{"SLURM_JOBID", "7"}, {"SLURM_STEPID", "0"}, {"SLURM_PROCID", "0"}}),
      SlurmContext::kSrunTask);
}

TEST(SlurmContextNameTest, NamesEveryContext) {
  EXPECT_EQ(SlurmContextName(SlurmContext::kNotSlurm), "not SLURM");
  EXPECT_EQ(SlurmContextName(SlurmContext::kAllocationShell), "salloc shell");
  EXPECT_EQ(SlurmContextName(SlurmContext::kBatchScript), "batch script");
  EXPECT_EQ(SlurmContextName(SlurmContext::kSrunTask), "srun task");
}

TEST(ParseSlurmJobTest, NotSlurmGivesEmptyJob) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob({{"HOME", "/root"}}));
  EXPECT_EQ(job.context, SlurmContext::kNotSlurm);
  EXPECT_TRUE(job.nodes.empty());
}

TEST(ParseSlurmJobTest, SrunTaskAsRecordedOnSlurm2205) {
  // Task 3 of `srun -N2 --ntasks-per-node=2` in job 4242.
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(SrunTaskEnv({}, 3)));
  EXPECT_EQ(job.context, SlurmContext::kSrunTask);
  EXPECT_EQ(job.job_id, 4242);
  EXPECT_EQ(job.step_id, 0);
  EXPECT_EQ(job.procid, 3);
  EXPECT_EQ(job.localid, 1);
  EXPECT_EQ(job.nodeid, 1);
  EXPECT_EQ(job.ntasks, 4);
  EXPECT_EQ(job.nnodes, 2);
  EXPECT_THAT(job.tasks_per_node, ElementsAre(2, 2));
  EXPECT_THAT(job.nodes, ElementsAre("n1", "n2"));
  EXPECT_TRUE(job.nodelist_is_step);
  EXPECT_EQ(job.job_name, "train");
  EXPECT_EQ(job.node_name, "n2");
  EXPECT_EQ(job.TasksOnThisNode(), 2);
  EXPECT_EQ(job.ThisNodeName(), "n2");
  EXPECT_FALSE(job.VisibleGpuCount().has_value());
  EXPECT_FALSE(job.master_port.has_value());
}

TEST(ParseSlurmJobTest, SeveralBracketGroupsAndHeterogeneousTasks) {
  StepSpec spec;
  spec.nodelist = "rack[1-2]-node[01-02]";
  spec.tasks_per_node = "2(x3),1";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(SrunTaskEnv(spec, 6)));
  EXPECT_THAT(job.nodes,
              ElementsAre("rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02"));
  EXPECT_THAT(job.tasks_per_node, ElementsAre(2, 2, 2, 1));
  EXPECT_EQ(job.ntasks, 7);
  EXPECT_EQ(job.nodeid, 3);
  EXPECT_EQ(job.localid, 0);
  EXPECT_EQ(job.TasksOnThisNode(), 1);
  EXPECT_EQ(job.ThisNodeName(), "rack2-node02");
}

TEST(ParseSlurmJobTest, StepNodelistWinsOverJobNodelist) {
  // A 1-node step inside a 2-node job.
  EnvMap env = SrunTaskEnv(Spec("n2", "1"), 0);
  env["SLURM_JOB_NODELIST"] = env["SLURM_NODELIST"] = "n[1-2]";
  env["SLURM_JOB_NUM_NODES"] = "2";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(env));
  EXPECT_THAT(job.nodes, ElementsAre("n2"));
  EXPECT_EQ(job.nnodes, 1);
}

TEST(ParseSlurmJobTest, FallsBackToJobVariablesWhenStepOnesAreMissing) {
  EnvMap env = SrunTaskEnv({}, 2);
  for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_STEP_NUM_NODES", "SLURM_STEP_NUM_TASKS",
                           "SLURM_STEP_TASKS_PER_NODE", "SLURM_STEP_ID"}) {
    env.erase(name);
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(env));  // SLURM_STEPID remains
  EXPECT_EQ(job.context, SlurmContext::kSrunTask);
  EXPECT_THAT(job.nodes, ElementsAre("n1", "n2"));
  EXPECT_FALSE(job.nodelist_is_step);
  EXPECT_THAT(job.tasks_per_node, ElementsAre(2, 2));
  EXPECT_EQ(job.ntasks, 4);
}

TEST(ParseSlurmJobTest, EvenTasksPerNodeDerivedWhenNotSet) {
  EnvMap env = SrunTaskEnv({}, 1);
  env.erase("SLURM_STEP_TASKS_PER_NODE");
  env.erase("SLURM_TASKS_PER_NODE");
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(env));
  EXPECT_THAT(job.tasks_per_node, ElementsAre(2, 2));
  EXPECT_EQ(job.tasks_per_node_spec, "2(x2)");
}

TEST(ParseSlurmJobTest, BatchScriptReadsTheJob) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job,
                              ParseSlurmJob(BatchScriptEnv(Spec("gpu[01-04]", "4(x4)"))));
  EXPECT_EQ(job.context, SlurmContext::kBatchScript);
  EXPECT_EQ(job.nnodes, 4);
  EXPECT_EQ(job.ntasks, 16);
  EXPECT_FALSE(job.step_id.has_value());
  EXPECT_EQ(job.nodes.front(), "gpu01");
  EXPECT_FALSE(job.nodelist_is_step);
}

TEST(ParseSlurmJobTest, AllocationShellWithoutLayoutVariablesIsFine) {
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob({{"SLURM_JOB_ID", "9"}}));
  EXPECT_EQ(job.context, SlurmContext::kAllocationShell);
  EXPECT_EQ(job.job_id, 9);
  EXPECT_EQ(job.nnodes, 1);
}

TEST(ParseSlurmJobTest, GpuVariables) {
  EnvMap env = SrunTaskEnv({}, 0);
  env["SLURM_GPUS_ON_NODE"] = "4";
  env["SLURM_STEP_GPUS"] = "0,1,2,3";
  env["CUDA_VISIBLE_DEVICES"] = "2,3";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(env));
  EXPECT_EQ(job.gpus_on_node, 4);
  EXPECT_EQ(job.step_gpus, "0,1,2,3");
  EXPECT_EQ(job.cuda_visible_devices, "2,3");
  EXPECT_EQ(job.VisibleGpuCount(), 2);  // CUDA_VISIBLE_DEVICES wins
  EXPECT_EQ(job.GpuSource(), "CUDA_VISIBLE_DEVICES=2,3");
}

TEST(SlurmJobTest, VisibleGpuCountSources) {
  SlurmJob job;
  EXPECT_FALSE(job.VisibleGpuCount().has_value());
  EXPECT_EQ(job.GpuSource(), "");
  job.step_gpus = "0,1";
  EXPECT_EQ(job.VisibleGpuCount(), 2);
  EXPECT_EQ(job.GpuSource(), "SLURM_STEP_GPUS=0,1");
  job.gpus_on_node = 8;
  EXPECT_EQ(job.VisibleGpuCount(), 8);
  job.cuda_visible_devices = "";
  EXPECT_EQ(job.VisibleGpuCount(), 0);
  job.cuda_visible_devices = "GPU-1c3f,GPU-77aa,GPU-9e01";  // UUIDs count too
  EXPECT_EQ(job.VisibleGpuCount(), 3);
}

TEST(SlurmJobTest, NoDevFilesIsNotAGpuCount) {
  SlurmJob job;
  job.cuda_visible_devices = "NoDevFiles";  // GRES without File= in gres.conf
  EXPECT_FALSE(job.VisibleGpuCount().has_value());
  job.gpus_on_node = 4;
  EXPECT_EQ(job.VisibleGpuCount(), 4);
  EXPECT_EQ(job.GpuSource(), "SLURM_GPUS_ON_NODE=4");
}

TEST(ParseSlurmJobTest, ReadsNonSlurmVariablesThePlanNeeds) {
  EnvMap env = SrunTaskEnv({}, 0);
  env["MASTER_PORT"] = "29511";
  env["OMP_NUM_THREADS"] = "4";
  env["SLURM_CPUS_PER_TASK"] = "6";
  env["SLURM_NTASKS_PER_NODE"] = "2";
  FABRIC_ASSERT_OK_AND_ASSIGN(SlurmJob job, ParseSlurmJob(env));
  EXPECT_EQ(job.master_port, 29511);
  EXPECT_TRUE(job.omp_num_threads_set);
  EXPECT_EQ(job.cpus_per_task, 6);
  EXPECT_EQ(job.ntasks_per_node, 2);
}

struct BadEnvCase {
  const char* name;
  std::map<std::string, std::string> set;  // value "<erase>" removes the variable
  const char* message;
};

class ParseSlurmJobErrorTest : public ::testing::TestWithParam<BadEnvCase> {};

TEST_P(ParseSlurmJobErrorTest, ReturnsInvalidArgumentNamingTheVariable) {
  EnvMap env = SrunTaskEnv({}, 3);
  for (const auto& [name, value] : GetParam().set) {
    if (value == "<erase>") {
      env.erase(name);
    } else {
      env[name] = value;
    }
  }
  EXPECT_THAT(ParseSlurmJob(env),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseSlurmJobErrorTest,
    ::testing::Values(
        BadEnvCase{"MissingProcid",
                   {{"SLURM_NODEID", "<erase>"}},
                   "SLURM_NODEID is not set although SLURM_STEP_ID is (an srun task)"},
        BadEnvCase{"MissingLocalid", {{"SLURM_LOCALID", "<erase>"}}, "SLURM_LOCALID is not set"},
        BadEnvCase{"MalformedProcid",
                   {{"SLURM_PROCID", "three"}},
                   "SLURM_PROCID=\"three\" is not an integer"},
        BadEnvCase{"NegativeNodeid", {{"SLURM_NODEID", "-1"}}, "SLURM_NODEID=\"-1\""},
        BadEnvCase{"MalformedJobId", {{"SLURM_JOB_ID", "12abc"}}, "SLURM_JOB_ID=\"12abc\""},
        BadEnvCase{"MalformedStepId", {{"SLURM_STEP_ID", "batch"}}, "SLURM_STEP_ID=\"batch\""},
        BadEnvCase{"ProcidOutOfRange",
                   {{"SLURM_PROCID", "4"}},
                   "SLURM_PROCID=4 is not below the step's 4 tasks"},
        BadEnvCase{"NodeidOutOfRange",
                   {{"SLURM_NODEID", "2"}},
                   "SLURM_NODEID=2 is not below the step's 2 nodes"},
        BadEnvCase{"LocalidOutOfRange",
                   {{"SLURM_LOCALID", "2"}},
                   "SLURM_LOCALID=2 is not below the 2 tasks of node 1"},
        BadEnvCase{"MalformedStepNodelist",
                   {{"SLURM_STEP_NODELIST", "n[1-"}},
                   "SLURM_STEP_NODELIST: invalid hostlist \"n[1-\""},
        BadEnvCase{"StepNodelistCountMismatch",
                   {{"SLURM_STEP_NODELIST", "n[1-3]"}},
                   "SLURM_STEP_NODELIST=\"n[1-3]\" names 3 hosts but the step has 2 nodes"},
        BadEnvCase{"NoNodelistAtAll",
                   {{"SLURM_STEP_NODELIST", "<erase>"},
                    {"SLURM_JOB_NODELIST", "<erase>"},
                    {"SLURM_NODELIST", "<erase>"}},
                   "none of SLURM_STEP_NODELIST"},
        BadEnvCase{"MalformedTasksPerNode",
                   {{"SLURM_STEP_TASKS_PER_NODE", "2(x2"}},
                   "SLURM_STEP_TASKS_PER_NODE: invalid tasks-per-node \"2(x2\""},
        BadEnvCase{"TasksPerNodeWrongNodeCount",
                   {{"SLURM_STEP_TASKS_PER_NODE", "2(x3)"}},
                   "describes 3 nodes but there are 2"},
        BadEnvCase{"TasksPerNodeWrongSum",
                   {{"SLURM_STEP_TASKS_PER_NODE", "3,2"}},
                   "adds up to 5 tasks but the step has 4"},
        BadEnvCase{"UnevenWithoutTasksPerNode",
                   {{"SLURM_STEP_TASKS_PER_NODE", "<erase>"},
                    {"SLURM_TASKS_PER_NODE", "<erase>"},
                    {"SLURM_STEP_NUM_TASKS", "3"},
                    {"SLURM_PROCID", "2"}},
                   "3 tasks do not divide evenly over 2 nodes"},
        BadEnvCase{"MissingTaskCount",
                   {{"SLURM_STEP_NUM_TASKS", "<erase>"},
                    {"SLURM_NTASKS", "<erase>"},
                    {"SLURM_NPROCS", "<erase>"}},
                   "SLURM_STEP_NUM_TASKS / SLURM_NTASKS / SLURM_NPROCS is not set"},
        BadEnvCase{"ZeroNodes", {{"SLURM_STEP_NUM_NODES", "0"}}, "SLURM_STEP_NUM_NODES=\"0\""},
        BadEnvCase{"MasterPortOutOfRange",
                   {{"MASTER_PORT", "70000"}},
                   "MASTER_PORT=\"70000\" is not an integer in 1..65535"},
        BadEnvCase{
            "MalformedGpusOnNode", {{"SLURM_GPUS_ON_NODE", "four"}}, "SLURM_GPUS_ON_NODE=\"four\""},
        BadEnvCase{
            "MalformedCpusPerTask", {{"SLURM_CPUS_PER_TASK", "0"}}, "SLURM_CPUS_PER_TASK=\"0\""}),
    [](const ::testing::TestParamInfo<BadEnvCase>& info) { return info.param.name; });

TEST(ParseSlurmJobTest, BatchScriptWithMalformedNodelistFails) {
  EnvMap env = BatchScriptEnv({});
  env["SLURM_JOB_NODELIST"] = "n[2-1]";
  EXPECT_THAT(ParseSlurmJob(env), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("SLURM_JOB_NODELIST: invalid hostlist")));
}

}  // namespace
}  // namespace fabric::slurm
