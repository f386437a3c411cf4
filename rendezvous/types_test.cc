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

TEST(NodeLossTest, DescribeAndFindRoundTrip) {
  const std::string why = "its session stream closed (agent exited or connection broken)";
  for (int rank : {-1, 0, 3}) {
    std::optional<NodeLoss> loss = FindNodeLoss(DescribeNodeLoss("n-1.x", why, rank));
    ASSERT_TRUE(loss.has_value()) << rank;
    EXPECT_EQ(loss->node_id, "n-1.x");
    EXPECT_EQ(loss->node_rank, rank);
    EXPECT_EQ(loss->why, why);
  }
}

TEST(NodeLossTest, FindsItInsideTheClusterFailureSummary) {
  std::optional<NodeLoss> loss = FindNodeLoss(
      "fabric-run: job j failed on every node (restarts spent: 0 of 0)\n"
      "fabric-run:   reason: node 'b' lost: it left (interrupted) (node rank 1); 1 node(s) "
      "left, below min_nodes=2\n");
  ASSERT_TRUE(loss.has_value());
  EXPECT_EQ(loss->node_id, "b");
  EXPECT_EQ(loss->node_rank, 1);
  EXPECT_EQ(loss->why, "it left (interrupted)");
}

TEST(NodeLossTest, OtherReasonsNameNoLoss) {
  for (const char* text : {"worker failure: rank 3 (node b, local rank 1) exited with code 1",
                           "node 'c' joined; growing from 1 to 2 nodes", "", "' lost: x",
                           "node '' lost: x", "lost the rendezvous server at h:1"}) {
    EXPECT_FALSE(FindNodeLoss(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
