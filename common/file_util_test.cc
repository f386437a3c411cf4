#include "common/file_util.h"

#include <fstream>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(FileUtilTest, ReadFileWholeOrNothing) {
  const std::string path = ::testing::TempDir() + "/f";
  std::ofstream(path) << "a\nb";
  EXPECT_EQ(ReadFile(path), "a\nb");
  EXPECT_EQ(ReadFile(::testing::TempDir() + "/missing"), std::nullopt);
}

TEST(FileUtilTest, TokenFileIsStrippedAndNeverQuoted) {
  const std::string path = ::testing::TempDir() + "/token";
  std::ofstream(path) << "  s3cret\n";
  EXPECT_THAT(ReadTokenFile(path, "--token-file"), IsOk());
  EXPECT_EQ(*ReadTokenFile(path, "--token-file"), "s3cret");
  const std::string blank = ::testing::TempDir() + "/blank";
  std::ofstream(blank) << " \n";
  EXPECT_THAT(
      ReadTokenFile(blank, "--token-file"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("--token-file: cannot read a token from"), HasSubstr("empty"))));
  EXPECT_THAT(ReadTokenFile("/nonexistent/t", "--rdzv-token-file"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'/nonexistent/t'"), Not(HasSubstr("empty")))));
}

}  // namespace
}  // namespace fabric
