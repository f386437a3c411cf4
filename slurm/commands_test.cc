#include "slurm/commands.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::slurm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BuildSrunArgvTest, TaskPerDevice) {
  SrunOptions options;
  options.nodes = 2;
  options.ntasks_per_node = 4;
  options.gpus_per_node = 4;
  options.immediate_seconds = 30;
  options.program = {"fabric-run", "./train", "--lr", "0.1"};
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv, BuildSrunArgv(options));
  EXPECT_THAT(argv, ElementsAre("srun", "-N", "2", "--ntasks-per-node=4", "--gpus-per-node=4",
                                "--immediate=30", "--kill-on-bad-exit=1", "fabric-run", "./train",
                                "--lr", "0.1"));
}

TEST(BuildSrunArgvTest, EveryOption) {
  SrunOptions options;
  options.nodes = 3;
  options.ntasks = 3;
  options.cpus_per_task = 8;
  options.time_limit = absl::Seconds(61);
  options.partition = "gpu";
  options.job_name = "train";
  options.kill_on_bad_exit = false;
  options.signal = "USR1@90";
  options.extra_args = {"--label"};
  options.program = {"env"};
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv, BuildSrunArgv(options));
  EXPECT_THAT(argv, ElementsAre("srun", "-N", "3", "-n", "3", "--cpus-per-task=8", "--time=2", "-p",
                                "gpu", "-J", "train", "--signal=USR1@90", "--label", "env"));
}

TEST(BuildSrunArgvTest, RejectsEmptyProgramAndBadCounts) {
  SrunOptions options;
  EXPECT_THAT(BuildSrunArgv(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no program")));
  options.program = {"true"};
  options.nodes = 0;
  EXPECT_THAT(BuildSrunArgv(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("srun -N 0")));
  options.nodes = 1;
  options.ntasks_per_node = 0;
  EXPECT_THAT(BuildSrunArgv(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--ntasks-per-node 0")));
  options.ntasks_per_node.reset();
  options.immediate_seconds = -1;
  EXPECT_THAT(BuildSrunArgv(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--immediate")));
}

TEST(BuildRequeueArgvTest, NamesTheJob) {
  EXPECT_THAT(BuildRequeueArgv(123456), ElementsAre("scontrol", "requeue", "123456"));
}

}  // namespace
}  // namespace fabric::slurm
