#include "common/subprocess.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

TEST(RunCommandTest, PassesInputAndCollectsBothStreams) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"sh", "-c", "cat; echo oops >&2; exit 3"}, "hello\n", absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "hello\n");
  EXPECT_EQ(r->err, "oops\n");
  EXPECT_EQ(r->exit_code, 3);
}

TEST(RunCommandTest, LargeInputAndOutputDoNotDeadlock) {
  const std::string big(1 << 20, 'x');  // more than a pipe buffer in both directions
  absl::StatusOr<CommandResult> r = RunCommand({"cat"}, big, absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out.size(), big.size());
}

TEST(RunCommandTest, MissingProgramIsNotFound) {
  absl::StatusOr<CommandResult> r = RunCommand({"/nonexistent/fabric-tool"}, "", absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/fabric-tool"));
}

TEST(RunCommandTest, KillsWhatOutlivesTheTimeout) {
  const absl::Time start = absl::Now();
  absl::StatusOr<CommandResult> r = RunCommand({"sleep", "30"}, "", absl::Milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RunCommandTest, ReportsDeathBySignal) {
  absl::StatusOr<CommandResult> r = RunCommand({"sh", "-c", "kill -9 $$"}, "", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 128 + 9);
}

}  // namespace
}  // namespace fabric
