#include "runtime/sharding.h"

#include <algorithm>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::ElementsAre;

TEST(ShardLayoutTest, PadsToAMultipleOfTheWorld) {
  ShardLayout l = MakeShardLayout(10, 4);
  EXPECT_EQ(l.shard_size, 3);
  EXPECT_EQ(l.padded, 12);
  EXPECT_EQ(l.Begin(2), 6);
  EXPECT_EQ(l.ValidCount(0), 3);
  EXPECT_EQ(l.ValidCount(3), 1);
}

TEST(ShardLayoutTest, TinyBufferLeavesSomeRanksOnlyPadding) {
  ShardLayout l = MakeShardLayout(2, 4);
  EXPECT_EQ(l.shard_size, 1);
  EXPECT_EQ(l.ValidCount(1), 1);
  EXPECT_EQ(l.ValidCount(2), 0);
}

TEST(PlanBucketsTest, ReverseOrderWithCap) {
  EXPECT_THAT(PlanBuckets({10, 10, 10, 10}, 20),
              ElementsAre(ElementsAre(3, 2), ElementsAre(1, 0)));
}

TEST(PlanBucketsTest, OversizedParameterGetsItsOwnBucket) {
  EXPECT_THAT(PlanBuckets({5, 100, 5}, 20),
              ElementsAre(ElementsAre(2), ElementsAre(1), ElementsAre(0)));
}

TEST(PlanBucketsTest, EverythingFitsInOneBucket) {
  EXPECT_THAT(PlanBuckets({1, 2, 3}, 1000), ElementsAre(ElementsAre(2, 1, 0)));
  EXPECT_TRUE(PlanBuckets({}, 10).empty());
}

// Simulates the ring on integers: every rank ends with the full sum of its own chunk.
TEST(RingScheduleTest, EveryRankEndsWithItsChunkReduced) {
  for (int world : {2, 3, 4, 7}) {
    // chunks[r][c]: rank r's value of chunk c (initially r*100 + c).
    std::vector<std::vector<long>> chunks(world, std::vector<long>(world));
    for (int r = 0; r < world; ++r)
      for (int c = 0; c < world; ++c) chunks[r][c] = r * 100 + c;
    for (int step = 0; step < world - 1; ++step) {
      std::vector<long> sent(world);
      for (int r = 0; r < world; ++r) sent[r] = chunks[r][RingSendChunk(r, world, step)];
      for (int r = 0; r < world; ++r) {
        int prev = (r + world - 1) % world;
        EXPECT_EQ(RingSendChunk(prev, world, step), RingRecvChunk(r, world, step));
        chunks[r][RingRecvChunk(r, world, step)] += sent[prev];
      }
    }
    for (int r = 0; r < world; ++r) {
      long expected = 0;
      for (int q = 0; q < world; ++q) expected += q * 100 + r;
      EXPECT_EQ(chunks[r][r], expected) << "world " << world << " rank " << r;
    }
  }
}

TEST(DistributedSamplerTest, RanksPartitionThePaddedDataset) {
  std::multiset<int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    auto idx = DistributedSamplerIndices(10, 3, r, 0, 42, true, false);
    EXPECT_EQ(idx.size(), 4u);
    seen.insert(idx.begin(), idx.end());
  }
  EXPECT_EQ(seen.size(), 12u);
  for (int64_t i = 0; i < 10; ++i) EXPECT_GE(seen.count(i), 1u);
}

TEST(DistributedSamplerTest, UnshuffledIsStrided) {
  EXPECT_THAT(DistributedSamplerIndices(8, 2, 1, 0, 0, false, false), ElementsAre(1, 3, 5, 7));
  EXPECT_THAT(DistributedSamplerIndices(7, 2, 1, 0, 0, false, true), ElementsAre(1, 3, 5));
}

TEST(DistributedSamplerTest, EpochChangesTheOrderDeterministically) {
  auto a = DistributedSamplerIndices(100, 2, 0, 0, 7, true, false);
  auto b = DistributedSamplerIndices(100, 2, 0, 1, 7, true, false);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, DistributedSamplerIndices(100, 2, 0, 0, 7, true, false));
}

}  // namespace
}  // namespace fabric::runtime
