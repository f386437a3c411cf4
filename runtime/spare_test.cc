#include "runtime/spare.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "common/status_matchers.h"
#include "common/worker_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::ElementsAre;

std::string Msg(std::initializer_list<const char*> entries) {
  std::string m;
  for (const char* e : entries) m.append(e).push_back('\0');
  m.push_back('\0');
  return m;
}

TEST(DecodeSpareAssignmentTest, EntriesUntilTheEmptyOne) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto env, DecodeSpareAssignment(Msg({"RANK=2", "A=b=c", "EMPTY="})));
  EXPECT_THAT(env, ElementsAre("RANK=2", "A=b=c", "EMPTY="));
}

TEST(DecodeSpareAssignmentTest, IncompleteMessageWaitsForMore) {
  std::string m = Msg({"RANK=2"});
  m.pop_back();  // the terminating NUL has not arrived
  EXPECT_TRUE(absl::IsFailedPrecondition(DecodeSpareAssignment(m).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(DecodeSpareAssignment("RANK=").status()));
}

TEST(DecodeSpareAssignmentTest, MalformedEntriesAreRefused) {
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeSpareAssignment(Msg({"NOEQUALS"})).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeSpareAssignment(Msg({"=value"})).status()));
}

std::string Fifo() {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string path = std::string(t ? t : "/tmp") + "/spare_fifo_" + std::to_string(getpid());
  unlink(path.c_str());
  EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
  return path;
}

TEST(WaitForAssignmentTest, TheWrittenEnvironmentReplacesTheProcesssOwn) {
  const std::string fifo = Fifo();
  setenv("FABRIC_SPARE_TEST_OLD", "1", 1);
  std::thread writer([&] {
    const int fd = open(fifo.c_str(), O_WRONLY);
    const std::string m = Msg({"RANK=3", "FABRIC_SPARE_TEST_NEW=yes"});
    // In two parts: the reader must wait for the whole message.
    ASSERT_EQ(write(fd, m.data(), 5), 5);
    usleep(50 * 1000);
    ASSERT_EQ(write(fd, m.data() + 5, m.size() - 5), static_cast<ssize_t>(m.size() - 5));
    close(fd);
  });
  ASSERT_THAT(WaitForAssignment(fifo), IsOk());
  writer.join();
  EXPECT_STREQ(std::getenv("RANK"), "3");
  EXPECT_STREQ(std::getenv("FABRIC_SPARE_TEST_NEW"), "yes");
  EXPECT_EQ(std::getenv("FABRIC_SPARE_TEST_OLD"), nullptr);
}

TEST(WaitForAssignmentTest, AWriterThatLeavesEarlyIsAnError) {
  const std::string fifo = Fifo();
  std::thread writer([&] {
    const int fd = open(fifo.c_str(), O_WRONLY);
    ASSERT_EQ(write(fd, "RANK=1", 6), 6);
    close(fd);
  });
  absl::Status st = WaitForAssignment(fifo);
  writer.join();
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
}

}  // namespace
}  // namespace fabric::runtime
