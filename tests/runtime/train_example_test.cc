// The example trainer under a launcher's restart: rank 0 crashes mid-run on the first
// attempt; the restarted job (TORCHELASTIC_RESTART_COUNT=1) resumes from the last
// checkpoint and finishes with a lower loss than it started with.
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;

std::string TrainBinary() {
  const char* src = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return std::string(src ? src : ".") + "/" + (ws ? ws : "") + "/examples/train/train";
}

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(t ? t : "/tmp") + "/train_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

TEST(TrainExampleTest, CrashedRunResumesFromItsCheckpointAndFinishes) {
  const std::string dir = TmpDir();
  std::vector<std::string> args = {
      "--steps=30",   "--ckpt-every=10", "--log-every=5", "--crash-at-step=15", "--d-model=32",
      "--seq-len=16", "--batch-size=4",  "--layers=1",    "--ckpt-dir=" + dir,  "--lr=0.01"};
  JobSpec first{TrainBinary(), args, 2, {{"TORCHELASTIC_RESTART_COUNT", "0"}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto crashed, RunRanks(first));
  EXPECT_EQ(crashed[0].exit_code, 1) << Describe(crashed);
  EXPECT_THAT(crashed[0].output, HasSubstr("crashing at step 15"));
  EXPECT_NE(crashed[1].exit_code, 0) << Describe(crashed);  // its peer vanished

  JobSpec second{TrainBinary(), args, 2, {{"TORCHELASTIC_RESTART_COUNT", "1"}}};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto resumed, RunRanks(second));
  for (const auto& r : resumed) EXPECT_EQ(r.exit_code, 0) << Describe(resumed);
  EXPECT_THAT(resumed[0].output, HasSubstr("at step 10"));
  EXPECT_THAT(resumed[0].output, HasSubstr("done: steps=30"));
  // Rank 0 prints; rank 1 does not.
  EXPECT_THAT(resumed[1].output, ::testing::Not(HasSubstr("loss")));
  // The loss went down over the whole run (first attempt's step 0 vs the last step).
  auto first_lines = LinesWithPrefix(crashed[0].output, "step 0 loss ");
  auto last_lines = LinesWithPrefix(resumed[0].output, "step 29 loss ");
  ASSERT_EQ(first_lines.size(), 1u) << Describe(crashed);
  ASSERT_EQ(last_lines.size(), 1u) << Describe(resumed);
  double l0 = 0, l29 = 0;
  ASSERT_TRUE(absl::SimpleAtod(first_lines[0], &l0));
  ASSERT_TRUE(absl::SimpleAtod(last_lines[0], &l29));
  EXPECT_LT(l29, l0);
}

TEST(TrainExampleTest, BadFlagIsAUsageError) {
  JobSpec spec{TrainBinary(), {"--stepz=3"}, 1};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  EXPECT_EQ(results[0].exit_code, 2);
  EXPECT_THAT(results[0].output, HasSubstr("unknown flag --stepz"));
}

}  // namespace
}  // namespace fabric::testing
