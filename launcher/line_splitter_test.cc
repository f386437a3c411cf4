#include "launcher/line_splitter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LineSplitterTest, SplitsCompleteLines) {
  LineSplitter s;
  std::vector<std::string> lines;
  s.Feed("a\nbb\n", &lines);
  EXPECT_THAT(lines, ElementsAre("a", "bb"));
}

TEST(LineSplitterTest, JoinsALineSplitAcrossReads) {
  LineSplitter s;
  std::vector<std::string> lines;
  s.Feed("hel", &lines);
  EXPECT_THAT(lines, IsEmpty());
  s.Feed("lo\nwor", &lines);
  s.Feed("ld\n", &lines);
  EXPECT_THAT(lines, ElementsAre("hello", "world"));
}

TEST(LineSplitterTest, FlushReturnsThePartialLastLine) {
  LineSplitter s;
  std::vector<std::string> lines;
  s.Feed("done\nno newline", &lines);
  std::string rest;
  ASSERT_TRUE(s.Flush(&rest));
  EXPECT_EQ(rest, "no newline");
  EXPECT_FALSE(s.Flush(&rest));
}

TEST(LineSplitterTest, FlushWithNothingPendingReturnsFalse) {
  LineSplitter s;
  std::vector<std::string> lines;
  s.Feed("x\n", &lines);
  std::string rest;
  EXPECT_FALSE(s.Flush(&rest));
}

TEST(LineSplitterTest, EmptyLinesArePreserved) {
  LineSplitter s;
  std::vector<std::string> lines;
  s.Feed("\n\na\n", &lines);
  EXPECT_THAT(lines, ElementsAre("", "", "a"));
}

TEST(LineSplitterTest, OverlongLineIsCutAtTheLimit) {
  LineSplitter s(4);
  std::vector<std::string> lines;
  s.Feed("abcdefghij\nxy\n", &lines);
  EXPECT_THAT(lines, ElementsAre("abcd", "efgh", "ij", "xy"));
}

TEST(LineSplitterTest, LineExactlyAtTheLimitIsOneLine) {
  LineSplitter s(4);
  std::vector<std::string> lines;
  s.Feed("ab", &lines);
  s.Feed("cd\n", &lines);
  EXPECT_THAT(lines, ElementsAre("abcd"));
}

}  // namespace
}  // namespace fabric::launcher
