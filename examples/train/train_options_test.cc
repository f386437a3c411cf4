#include "examples/train/train_options.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::examples {
namespace {

using ::testing::HasSubstr;

TEST(TrainOptionsTest, Defaults) {
  FABRIC_ASSERT_OK_AND_ASSIGN(TrainOptions o, ParseTrainOptions({}));
  EXPECT_FALSE(o.strategy.has_value());
  EXPECT_EQ(o.steps, 200);
  EXPECT_TRUE(o.ckpt_dir.empty());
}

TEST(TrainOptionsTest, BothFlagForms) {
  FABRIC_ASSERT_OK_AND_ASSIGN(
      TrainOptions o,
      ParseTrainOptions({"--strategy=fsdp", "--steps", "20", "--ckpt-dir", "/tmp/x", "--lr=0.01"}));
  EXPECT_EQ(*o.strategy, "fsdp");
  EXPECT_EQ(o.steps, 20);
  EXPECT_EQ(o.ckpt_dir, "/tmp/x");
  EXPECT_DOUBLE_EQ(o.lr, 0.01);
  EXPECT_EQ(o.loss_scale_growth_interval, 2000);  // torch's default
  FABRIC_ASSERT_OK_AND_ASSIGN(o, ParseTrainOptions({"--loss-scale-growth-interval=1"}));
  EXPECT_EQ(o.loss_scale_growth_interval, 1);
  EXPECT_FALSE(ParseTrainOptions({"--loss-scale-growth-interval=0"}).ok());
  FABRIC_ASSERT_OK_AND_ASSIGN(o, ParseTrainOptions({"--process-group-backend", "gloo"}));
  EXPECT_EQ(*o.process_group_backend, "gloo");
  EXPECT_THAT(ParseTrainOptions({"--process-group-backend=mpi"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--process-group-backend")));
}

TEST(TrainOptionsTest, BadValuesNameTheFlag) {
  EXPECT_THAT(ParseTrainOptions({"--steps=-3"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--steps='-3'")));
  EXPECT_THAT(ParseTrainOptions({"--stepz=3"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown flag --stepz")));
  EXPECT_THAT(ParseTrainOptions({"--steps"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a value")));
  EXPECT_THAT(ParseTrainOptions({"--d-model=30", "--heads=4"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("multiple of --heads")));
}

}  // namespace
}  // namespace fabric::examples
