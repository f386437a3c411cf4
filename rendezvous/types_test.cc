#include "rendezvous/types.h"

#include "gtest/gtest.h"

namespace fabric {
namespace rendezvous {
namespace {

TEST(PlacementOfTest, CarriesEveryPlacementFactOfTheAssignment) {
  Assignment a;
  a.round = 4;
  a.node_rank = 2;
  a.num_nodes = 3;
  a.global_rank_base = 5;
  a.world_size = 9;
  a.local_world_size = 4;
  a.master_addr = "10.0.0.7";
  a.master_port = 29500;
  a.restart_count = 1;
  a.max_restarts = 3;
  a.members.push_back(Member{"n0", 0, "10.0.0.7", 2, 0});
  NodePlacement p = PlacementOf(a, "job9");
  EXPECT_EQ(p.run_id, "job9");
  EXPECT_EQ(p.round, 4);
  EXPECT_EQ(p.node_rank, 2);
  EXPECT_EQ(p.num_nodes, 3);
  EXPECT_EQ(p.global_rank_base, 5);
  EXPECT_EQ(p.world_size, 9);
  EXPECT_EQ(p.local_world_size, 4);
  EXPECT_EQ(p.master_addr, "10.0.0.7");
  EXPECT_EQ(p.master_port, 29500);
  EXPECT_EQ(p.restart_count, 1);
  EXPECT_EQ(p.max_restarts, 3);
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
