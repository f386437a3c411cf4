#include "common/logging.h"

#include "gtest/gtest.h"

namespace fabric {
namespace {

TEST(LoggingTest, EveryLineHasTheOneShape) {
  EXPECT_EQ(FormatLogLine("fabric-run", LogLevel::kInfo, "hosting the rendezvous"),
            "fabric-run: hosting the rendezvous\n");
  EXPECT_EQ(FormatLogLine("fabric-run", LogLevel::kWarning, "ignoring a line"),
            "fabric-run: warning: ignoring a line\n");
  EXPECT_EQ(FormatLogLine("fabric-run", LogLevel::kError, "x"), "fabric-run: error: x\n");
  EXPECT_EQ(FormatLogLine("fabric-run", LogLevel::kDebug, "x"), "fabric-run: debug: x\n");
  EXPECT_EQ(FormatLogLine("fabric-rendezvous", LogLevel::kWarning, "x"),
            "fabric-rendezvous: warning: x\n");
}

TEST(LoggingTest, NoBracketsOrPidAnyMore) {  // the old "[fabric-run pid=N] W ..." shape
  const std::string line = FormatLogLine("fabric-run", LogLevel::kWarning, "m");
  EXPECT_EQ(line.find('['), std::string::npos);
  EXPECT_EQ(line.find("pid="), std::string::npos);
}

}  // namespace
}  // namespace fabric
