// The pure parts of in-place recovery: who sends the state, and the control FIFO's
// shrink lines (a real FIFO in TEST_TMPDIR).
#include "runtime/recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/status_matchers.h"
#include "common/worker_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

TEST(ElectDonorFromTest, TheLowestRankWithTheMostStepsSends) {
  FABRIC_ASSERT_OK_AND_ASSIGN(Donor d, ElectDonorFrom({4, 5, -1, 5}));
  EXPECT_EQ(d.rank, 1);
  EXPECT_EQ(d.steps, 5);
}

TEST(ElectDonorFromTest, OnlyReplacementsIsFailedPrecondition) {
  EXPECT_THAT(ElectDonorFrom({-1, -1}).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(ElectDonorFrom({}).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

std::string MakeFifo(const char* name) {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string path = std::string(t != nullptr ? t : "/tmp") + "/" + name;
  unlink(path.c_str());
  EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
  return path;
}

TEST(ControlFifoTest, NoPathReadsNothing) {
  ControlFifo fifo("");
  EXPECT_EQ(fifo.ReadShrink(), std::nullopt);
}

TEST(ControlFifoTest, AShrinkLineIsReadOnceWhole) {
  const std::string path = MakeFifo("control_whole");
  ControlFifo fifo(path);
  EXPECT_EQ(fifo.ReadShrink(), std::nullopt);  // opens it; nothing written yet
  const int w = open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0);
  const std::string line = EncodeShrink(ShrinkCommand{3, 1});
  const size_t half = line.size() / 2;
  ASSERT_EQ(write(w, line.data(), half), static_cast<ssize_t>(half));
  EXPECT_EQ(fifo.ReadShrink(), std::nullopt);  // half a line
  ASSERT_EQ(write(w, line.data() + half, line.size() - half),
            static_cast<ssize_t>(line.size() - half));
  std::optional<ShrinkCommand> got = fifo.ReadShrink();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->world_size, 3);
  EXPECT_EQ(got->rank, 1);
  EXPECT_EQ(fifo.ReadShrink(), std::nullopt);  // taken
  close(w);
}

TEST(ControlFifoTest, AMalformedLineIsSkipped) {
  const std::string path = MakeFifo("control_bad");
  ControlFifo fifo(path);
  EXPECT_EQ(fifo.ReadShrink(), std::nullopt);
  const int w = open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0);
  const std::string text = "grow 9\n" + EncodeShrink(ShrinkCommand{2, 0});
  ASSERT_EQ(write(w, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  EXPECT_EQ(fifo.ReadShrink(), std::nullopt);  // the bad line
  std::optional<ShrinkCommand> got = fifo.ReadShrink();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->world_size, 2);
  close(w);
}

}  // namespace
}  // namespace fabric::runtime
