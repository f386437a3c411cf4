#include "common/worker_env.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

WorkerEnv Sample() {
  WorkerEnv w;
  w.rank = 5;
  w.local_rank = 1;
  w.world_size = 8;
  w.local_world_size = 4;
  w.group_rank = 1;
  w.group_world_size = 2;
  w.master_addr = "10.0.0.1";
  w.master_port = 12345;
  w.run_id = "job7";
  w.restart_count = 2;
  w.max_restarts = 3;
  w.accelerator = "cpu";
  w.strategy = "ddp";
  w.devices = "4";
  w.precision = "32-true";
  w.omp_num_threads = "1";
  return w;
}

TEST(WorkerEnvTest, WritesTorchrunNames) {
  EnvMap env = Sample().ToEnvMap();
  EXPECT_EQ(env["RANK"], "5");
  EXPECT_EQ(env["LOCAL_RANK"], "1");
  EXPECT_EQ(env["WORLD_SIZE"], "8");
  EXPECT_EQ(env["LOCAL_WORLD_SIZE"], "4");
  EXPECT_EQ(env["GROUP_RANK"], "1");
  EXPECT_EQ(env["GROUP_WORLD_SIZE"], "2");
  EXPECT_EQ(env["ROLE_RANK"], "5");
  EXPECT_EQ(env["ROLE_WORLD_SIZE"], "8");
  EXPECT_EQ(env["MASTER_ADDR"], "10.0.0.1");
  EXPECT_EQ(env["MASTER_PORT"], "12345");
  EXPECT_EQ(env["TORCHELASTIC_RUN_ID"], "job7");
  EXPECT_EQ(env["TORCHELASTIC_RESTART_COUNT"], "2");
  EXPECT_EQ(env["TORCHELASTIC_MAX_RESTARTS"], "3");
  EXPECT_EQ(env["LT_CLI_USED"], "1");
  EXPECT_EQ(env["LT_NUM_NODES"], "2");
  EXPECT_EQ(env["OMP_NUM_THREADS"], "1");
  EXPECT_EQ(env.count("CUDA_VISIBLE_DEVICES"), 0u);
}

TEST(WorkerEnvTest, RoundTrips) {
  FABRIC_ASSERT_OK_AND_ASSIGN(WorkerEnv back, WorkerEnv::FromEnvMap(Sample().ToEnvMap()));
  EXPECT_EQ(back.ToEnvMap(), Sample().ToEnvMap());
}

TEST(WorkerEnvTest, MissingRankNamesTheVariable) {
  EnvMap env = Sample().ToEnvMap();
  env.erase("RANK");
  EXPECT_THAT(WorkerEnv::FromEnvMap(env),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RANK is not set")));
}

TEST(WorkerEnvTest, RankBeyondWorldIsRefused) {
  EnvMap env = Sample().ToEnvMap();
  env["RANK"] = "8";
  EXPECT_THAT(WorkerEnv::FromEnvMap(env),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not below WORLD_SIZE")));
}

TEST(WorkerEnvTest, MalformedPortIsRefused) {
  EnvMap env = Sample().ToEnvMap();
  env["MASTER_PORT"] = "http";
  EXPECT_THAT(WorkerEnv::FromEnvMap(env),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("MASTER_PORT")));
}

TEST(WorkerEnvTest, MinimalTorchrunEnvironmentDefaultsTheRest) {
  EnvMap env = {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  FABRIC_ASSERT_OK_AND_ASSIGN(WorkerEnv w, WorkerEnv::FromEnvMap(env));
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.local_world_size, 2);
  EXPECT_EQ(w.group_world_size, 1);
  EXPECT_FALSE(w.lt_cli_used);
}

}  // namespace
}  // namespace fabric
