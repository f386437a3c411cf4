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
  EXPECT_THAT(PlanBuckets({10, 10, 10, 10}, 20), ElementsAre(ElementsAre(3, 2), ElementsAre(1, 0)));
}

TEST(PlanBucketsTest, OversizedParameterGetsItsOwnBucket) {
  EXPECT_THAT(PlanBuckets({5, 100, 5}, 20),
              ElementsAre(ElementsAre(2), ElementsAre(1), ElementsAre(0)));
}

TEST(PlanBucketsTest, EverythingFitsInOneBucket) {
  EXPECT_THAT(PlanBuckets({1, 2, 3}, 1000), ElementsAre(ElementsAre(2, 1, 0)));
  EXPECT_TRUE(PlanBuckets({}, 10).empty());
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
