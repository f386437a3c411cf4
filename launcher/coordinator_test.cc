#include "launcher/coordinator.h"

#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

NodePlacement Plan(int base, int local, int world) {
  NodePlacement p;
  p.global_rank_base = base;
  p.local_world_size = local;
  p.world_size = world;
  return p;
}

TEST(ShrinksInPlaceTest, FewerRanksAroundTheSameRankZeroNode) {
  // Node 0 of 3 (ranks 0-1) after node 1 was lost; node 2 moves from ranks 4-5 to 2-3.
  EXPECT_TRUE(ShrinksInPlace(Plan(0, 2, 6), "a", Plan(0, 2, 4), "a"));
  EXPECT_TRUE(ShrinksInPlace(Plan(4, 2, 6), "a", Plan(2, 2, 4), "a"));
}

TEST(ShrinksInPlaceTest, RankZeroNodeLostOrUnknown) {
  // Node a (rank 0) was lost: node b's workers' store is gone with it.
  EXPECT_FALSE(ShrinksInPlace(Plan(2, 2, 4), "a", Plan(0, 2, 2), "b"));
  EXPECT_FALSE(ShrinksInPlace(Plan(4, 2, 6), "a", Plan(2, 2, 4), "b"));
  EXPECT_FALSE(ShrinksInPlace(Plan(0, 2, 4), "", Plan(0, 2, 2), ""));
}

TEST(ShrinksInPlaceTest, GrowingOrAChangedLocalWorldIsARestart) {
  EXPECT_FALSE(ShrinksInPlace(Plan(0, 2, 2), "a", Plan(0, 2, 4), "a"));
  EXPECT_FALSE(ShrinksInPlace(Plan(0, 2, 4), "a", Plan(0, 2, 4), "a"));
  EXPECT_FALSE(ShrinksInPlace(Plan(0, 2, 4), "a", Plan(0, 1, 3), "a"));
}

}  // namespace
}  // namespace fabric::launcher
