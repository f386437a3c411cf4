#include "common/placement.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::ElementsAreArray;

TEST(RankBasesTest, ArePrefixSumsEndingInTheWorldSize) {
  struct Case {
    std::vector<int> sizes;
    std::vector<int> bases;
  };
  const Case cases[] = {
      {{}, {0}},
      {{4}, {0, 4}},
      {{2, 2}, {0, 2, 4}},
      {{2, 3, 1}, {0, 2, 5, 6}},
      {{1, 8, 8, 1}, {0, 1, 9, 17, 18}},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(RankBases(c.sizes), ElementsAreArray(c.bases))
        << "sizes " << ::testing::PrintToString(c.sizes);
  }
}

TEST(UniformPlacementTest, EveryNodeRunsTheSameNumberOfWorkers) {
  struct Case {
    int node_rank, num_nodes, local_world_size;
    int global_rank_base, world_size;
  };
  const Case cases[] = {
      {0, 1, 1, 0, 1},
      {0, 1, 4, 0, 4},
      {1, 2, 4, 4, 8},
      {3, 4, 2, 6, 8},
  };
  for (const Case& c : cases) {
    NodePlacement p = UniformPlacement(c.node_rank, c.num_nodes, c.local_world_size);
    EXPECT_EQ(p.node_rank, c.node_rank);
    EXPECT_EQ(p.num_nodes, c.num_nodes);
    EXPECT_EQ(p.local_world_size, c.local_world_size);
    EXPECT_EQ(p.global_rank_base, c.global_rank_base) << "node " << c.node_rank;
    EXPECT_EQ(p.world_size, c.world_size) << "node " << c.node_rank;
  }
}

TEST(ForLocalRankTest, RankIsBasePlusLocalRankAndGroupIsTheNode) {
  NodePlacement p;
  p.run_id = "job7";
  p.round = 3;
  p.restart_count = 1;
  p.max_restarts = 2;
  p.node_rank = 1;
  p.num_nodes = 3;
  p.global_rank_base = 2;
  p.local_world_size = 3;
  p.world_size = 6;
  p.master_addr = "10.0.0.1";
  p.master_port = 29400;
  struct Case {
    int local_rank, rank;
  };
  for (const Case& c : {Case{0, 2}, Case{1, 3}, Case{2, 4}}) {
    WorkerEnv w = ForLocalRank(p, c.local_rank);
    EXPECT_EQ(w.rank, c.rank);
    EXPECT_EQ(w.local_rank, c.local_rank);
    EXPECT_EQ(w.world_size, 6);
    EXPECT_EQ(w.local_world_size, 3);
    EXPECT_EQ(w.group_rank, 1);
    EXPECT_EQ(w.group_world_size, 3);
    EXPECT_EQ(w.master_addr, "10.0.0.1");
    EXPECT_EQ(w.master_port, 29400);
    EXPECT_EQ(w.run_id, "job7");
    EXPECT_EQ(w.restart_count, 1);
    EXPECT_EQ(w.max_restarts, 2);
    EXPECT_EQ(w.round, 3);
  }
}

TEST(ForLocalRankTest, LeavesTheNonPlacementFieldsAtTheirDefaults) {
  const WorkerEnv defaults;
  WorkerEnv w = ForLocalRank(UniformPlacement(0, 1, 2), 1);
  EXPECT_EQ(w.role_name, defaults.role_name);
  EXPECT_EQ(w.error_file, "");
  EXPECT_EQ(w.accelerator, "");
  EXPECT_EQ(w.devices, "");
  EXPECT_FALSE(w.cuda_visible_devices.has_value());
  EXPECT_FALSE(w.omp_num_threads.has_value());
}

TEST(ForLocalRankTest, EnvMapCarriesTheGroupVariables) {
  EnvMap env = ForLocalRank(UniformPlacement(2, 4, 2), 1).ToEnvMap();
  EXPECT_EQ(env[kEnvRank], "5");
  EXPECT_EQ(env[kEnvLocalRank], "1");
  EXPECT_EQ(env[kEnvWorldSize], "8");
  EXPECT_EQ(env[kEnvLocalWorldSize], "2");
  EXPECT_EQ(env[kEnvGroupRank], "2");
  EXPECT_EQ(env[kEnvGroupWorldSize], "4");
  EXPECT_EQ(env[kEnvLtNumNodes], "4");
}

}  // namespace
}  // namespace fabric
