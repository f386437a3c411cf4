#include "common/lightning_choices.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

TEST(CanonicalStrategyTest, EveryListedStrategyIsItsOwnCanonicalName) {
  for (const std::string& s : Strategies()) EXPECT_EQ(CanonicalStrategy(s).value_or(""), s);
}

TEST(CanonicalStrategyTest, AliasesAndCase) {
  EXPECT_EQ(CanonicalStrategy("single").value_or(""), "single_device");
  EXPECT_EQ(CanonicalStrategy("DDP").value_or(""), "ddp");
}

TEST(CanonicalStrategyTest, RefusedStrategiesSayWhatToUse) {
  EXPECT_THAT(CanonicalStrategy("ddp_spawn"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use --strategy ddp")));
  EXPECT_THAT(CanonicalStrategy("ddp_fork_find_unused_parameters_true"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use --strategy ddp")));
  EXPECT_THAT(CanonicalStrategy("dp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one process per device")));
  EXPECT_THAT(CanonicalStrategy("deepspeed_stage_3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not supported")));
  EXPECT_THAT(CanonicalStrategy("magic"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ddp_find_unused")));
}

TEST(CanonicalPrecisionTest, EveryListedPrecisionAndLightningsLegacyNames) {
  for (const std::string& p : Precisions()) EXPECT_EQ(CanonicalPrecision(p).value_or(""), p);
  EXPECT_EQ(CanonicalPrecision("64").value_or(""), "64-true");
  EXPECT_EQ(CanonicalPrecision("32").value_or(""), "32-true");
  EXPECT_EQ(CanonicalPrecision("16").value_or(""), "16-mixed");
  EXPECT_EQ(CanonicalPrecision("bf16").value_or(""), "bf16-mixed");
  EXPECT_EQ(CanonicalPrecision("BF16-True").value_or(""), "bf16-true");
}

TEST(CanonicalPrecisionTest, UnknownNamesListTheChoices) {
  EXPECT_THAT(CanonicalPrecision("fp8"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bf16-true"), HasSubstr("16-mixed"))));
}

}  // namespace
}  // namespace fabric
