// Every Lightning precision trains on CPU through the real runtime (2 ranks, DDP and
// FSDP): parameters and compute in the right dtypes, the loss handed back in float32,
// the first loss close to the 32-true run's (same initial weights and data), and the
// loss falling. 16-mixed's loss scaler skips overflowing steps, backs off and grows.
#include <cmath>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

struct Report {
  std::map<std::string, std::string> fields;
  std::vector<double> scales;
  double Num(const std::string& k) const {
    double v = NAN;
    auto it = fields.find(k);
    if (it != fields.end()) absl::SimpleAtod(it->second, &v);
    return v;
  }
};

// Runs `precision` on 2 ranks and returns rank 0's report (both ranks must exit 0).
Report RunPrecision(const std::string& precision, const std::string& strategy,
                    std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"precision", "p=" + precision, "strategy=" + strategy};
  args.insert(args.end(), extra.begin(), extra.end());
  JobSpec spec{WorkerBinary(), args, 2};
  absl::StatusOr<std::vector<RankResult>> results = RunRanks(spec);
  Report r;
  EXPECT_TRUE(results.ok()) << results.status();
  if (!results.ok()) return r;
  for (const RankResult& rr : *results) EXPECT_EQ(rr.exit_code, 0) << Describe(*results);
  std::vector<std::string> lines = LinesWithPrefix((*results)[0].output, "PRECISION ");
  EXPECT_EQ(lines.size(), 1u) << Describe(*results);
  if (lines.size() != 1) return r;
  for (absl::string_view kv : absl::StrSplit(lines[0], ' ')) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    r.fields[p.first] = p.second;
  }
  for (const std::string& l : LinesWithPrefix((*results)[0].output, "SCALES ")) {
    for (absl::string_view v : absl::StrSplit(l, ' ', absl::SkipEmpty())) {
      double d = 0;
      if (absl::SimpleAtod(v, &d)) r.scales.push_back(d);
    }
  }
  return r;
}

struct Case {
  const char* precision;
  const char* param;
  const char* compute;
  double first_tolerance;  // relative, against 32-true's first loss
};

class PrecisionTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PrecisionTest, EveryPrecisionTrainsWithItsDtypes) {
  const std::string strategy = GetParam();
  const Report ref = RunPrecision("32-true", strategy);
  ASSERT_FALSE(std::isnan(ref.Num("first")));
  const Case cases[] = {
      {"32-true", "Float", "Float", 1e-6},       {"64-true", "Double", "Double", 1e-5},
      {"16-true", "Half", "Half", 2e-2},         {"bf16-true", "BFloat16", "BFloat16", 5e-2},
      {"bf16-mixed", "Float", "BFloat16", 5e-2}, {"16-mixed", "Float", "Half", 2e-2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.precision);
    const Report r = RunPrecision(c.precision, strategy);
    EXPECT_THAT(r.fields, ::testing::Contains(std::make_pair(std::string("param"), c.param)));
    EXPECT_THAT(r.fields, ::testing::Contains(std::make_pair(std::string("compute"), c.compute)));
    // Lightning hands the loss back in float32 whatever the precision.
    EXPECT_THAT(r.fields, ::testing::Contains(std::make_pair(std::string("loss"), "Float")));
    EXPECT_NEAR(r.Num("first"), ref.Num("first"), c.first_tolerance * ref.Num("first"));
    EXPECT_LT(r.Num("last"), r.Num("first"));
    EXPECT_EQ(r.Num("skipped"), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, PrecisionTest, ::testing::Values("ddp", "fsdp"));

TEST(GradScalerTrainingTest, OverflowingStepsAreSkippedTheScaleBacksOffAndGrows) {
  // 2^24 makes float16 gradients overflow: the first steps must be skipped (parameters
  // untouched on every rank) and the scale halved each time, until it fits; then after
  // 3 clean steps it doubles.
  const Report r =
      RunPrecision("16-mixed", "ddp", {"init_scale=16777216", "growth_interval=3", "steps=30"});
  ASSERT_EQ(r.scales.size(), 30u);
  EXPECT_GT(r.Num("skipped"), 0);
  int backoffs = 0, growths = 0;
  double prev = 16777216;
  for (double s : r.scales) {
    if (s < prev) ++backoffs;
    if (s > prev) ++growths;
    prev = s;
  }
  EXPECT_EQ(backoffs, r.Num("skipped"));  // one back-off per skipped step
  EXPECT_GT(growths, 0);
  EXPECT_LT(r.Num("last"), r.Num("first"));
}

TEST(GradScalerTrainingTest, NegativeControlNoOverflowNoSkip) {
  const Report r = RunPrecision("16-mixed", "ddp", {"init_scale=1", "steps=5"});
  EXPECT_EQ(r.Num("skipped"), 0);
  EXPECT_EQ(r.Num("scale"), 1);
}

}  // namespace
}  // namespace fabric::testing
