#include "runtime/checkpoint.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "ATen/ATen.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch/csrc/jit/serialization/pickle.h"

namespace fabric::runtime {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "_" + std::to_string(getpid());
}

CheckpointData Sample() {
  CheckpointData d;
  d.step = 7;
  d.world_size = 2;
  d.rng_state = at::arange(16, at::kByte);
  d.model["w"] = at::ones({2, 3});
  d.optimizer["w/exp_avg"] = at::full({2, 3}, 0.5);
  d.extra["epoch"] = at::scalar_tensor(3, at::kLong);
  return d;
}

TEST(CheckpointTest, WithoutCudaTheCudaStateIsAbsentAndLoads) {
  const std::string path = TempPath("cpu_only.ckpt");
  ASSERT_THAT(WriteCheckpoint(path, Sample(), 0), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(CheckpointData back, ReadCheckpoint(path, 0));
  EXPECT_EQ(back.step, 7);
  EXPECT_EQ(back.world_size, 2);
  ASSERT_TRUE(back.rng_state.defined());
  EXPECT_TRUE(at::equal(back.rng_state, at::arange(16, at::kByte)));
  EXPECT_FALSE(back.cuda_rng_state.defined());
  EXPECT_TRUE(at::equal(back.model.at("w"), at::ones({2, 3})));
  EXPECT_TRUE(at::equal(back.optimizer.at("w/exp_avg"), at::full({2, 3}, 0.5)));
  EXPECT_EQ(back.extra.at("epoch").item<int64_t>(), 3);
  unlink(path.c_str());
}

TEST(CheckpointTest, CarriesTheCudaGeneratorState) {
  const std::string path = TempPath("cuda_rng.ckpt");
  CheckpointData d = Sample();
  d.cuda_rng_state = at::arange(16, at::kByte).flip({0});  // as a GPU rank gives it
  ASSERT_THAT(WriteCheckpoint(path, d, 0), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(CheckpointData back, ReadCheckpoint(path, 0));
  ASSERT_TRUE(back.cuda_rng_state.defined());
  EXPECT_TRUE(at::equal(back.cuda_rng_state, d.cuda_rng_state));
  EXPECT_TRUE(at::equal(back.rng_state, d.rng_state));  // the CPU one is kept apart
  unlink(path.c_str());
}

TEST(CheckpointTest, ReadsAFileWrittenBeforeTheCudaState) {
  // The format-1 layout as it was written before "rng/cuda" existed.
  const std::string path = TempPath("old.ckpt");
  c10::Dict<std::string, at::Tensor> dict;
  dict.insert("format", at::scalar_tensor(int64_t{1}, at::kLong));
  dict.insert("step", at::scalar_tensor(int64_t{4}, at::kLong));
  dict.insert("world_size", at::scalar_tensor(int64_t{1}, at::kLong));
  dict.insert("rng/cpu", at::arange(8, at::kByte));
  dict.insert("model/w", at::zeros({2}));
  std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
  ASSERT_THAT(WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size())), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(CheckpointData back, ReadCheckpoint(path, 0));
  EXPECT_EQ(back.step, 4);
  EXPECT_TRUE(back.rng_state.defined());
  EXPECT_FALSE(back.cuda_rng_state.defined());
  EXPECT_EQ(back.model.count("w"), 1u);
  unlink(path.c_str());
}

TEST(CheckpointTest, NotACheckpointIsDataLoss) {
  const std::string path = TempPath("junk.ckpt");
  ASSERT_THAT(WriteFileAtomically(path, "not a pickle"), IsOk());
  EXPECT_THAT(ReadCheckpoint(path, 3).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::_));
  unlink(path.c_str());
}

}  // namespace
}  // namespace fabric::runtime
