#include "runtime/sharded_state.h"

#include "ATen/ATen.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

// One unit "u" of two parameters, a [2, 3] (offset 0) and b [2] (offset 6): 8 elements
// over 2 ranks, 4 each; plus a whole buffer.
std::vector<TensorMap> TwoRanks() {
  const at::Tensor flat = at::arange(8, at::kFloat);
  std::vector<TensorMap> ranks(2);
  for (int r = 0; r < 2; ++r) {
    TensorMap& m = ranks[r];
    m["model/buf"] = at::ones({3});
    m["fsdp/u/layout"] = at::tensor(std::vector<int64_t>{8, 8, 4, 2}, at::kLong);
    m["fsdp/u/param/a"] = at::tensor(std::vector<int64_t>{0, 6, 2, 3}, at::kLong);
    m["fsdp/u/param/b"] = at::tensor(std::vector<int64_t>{6, 2, 2}, at::kLong);
    m["fsdp/u/flat"] = flat.narrow(0, 4 * r, 4).clone();
    m["fsdp/u/optim/exp_avg"] = flat.narrow(0, 4 * r, 4) * 10;
    m["fsdp/u/optim/step"] = at::scalar_tensor(5, at::kLong);
  }
  return ranks;
}

TEST(AssembleFullStateTest, ShardsBecomeNamedFullTensors) {
  FABRIC_ASSERT_OK_AND_ASSIGN(FullState full, AssembleFullState(TwoRanks()));
  EXPECT_TRUE(at::equal(full.model.at("a"), at::arange(6, at::kFloat).view({2, 3})));
  EXPECT_TRUE(at::equal(full.model.at("b"), at::arange(6, 8, at::kFloat)));
  EXPECT_TRUE(at::equal(full.model.at("buf"), at::ones({3})));
  EXPECT_TRUE(at::equal(full.optimizer.at("b/exp_avg"), at::arange(60, 80, 10, at::kFloat)));
  EXPECT_EQ(full.optimizer.at("a/step").item<int64_t>(), 5);
}

TEST(AssembleFullStateTest, AMissingRankFileIsDataLoss) {
  std::vector<TensorMap> one = TwoRanks();
  one.pop_back();
  EXPECT_THAT(AssembleFullState(one).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("saved by 2 ranks")));
  std::vector<TensorMap> broken = TwoRanks();
  broken[1].erase("fsdp/u/flat");
  EXPECT_THAT(AssembleFullState(broken).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("rank 1 has no")));
}

}  // namespace
}  // namespace fabric::runtime
