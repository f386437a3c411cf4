#include "common/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/posix_error.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesWhenDestroyed) {
  int raw;
  {
    UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));  // negative control of the line above
}

TEST(UniqueFdTest, MoveTransfersOwnershipOnce) {
  UniqueFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
  c.reset();
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFdTest, ReleaseLeavesTheDescriptorOpen) {
  UniqueFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.release();
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(IsOpen(raw));
  close(raw);
}

TEST(UniqueFdTest, PipeCarriesBytesAndReadEndIsNonBlocking) {
  FABRIC_ASSERT_OK_AND_ASSIGN(Pipe p, MakePipe(/*nonblocking_read=*/true));
  char c;
  EXPECT_EQ(read(p.read.get(), &c, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_EQ(write(p.write.get(), "x", 1), 1);
  EXPECT_EQ(read(p.read.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  EXPECT_NE(fcntl(p.write.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(UniqueFdTest, FifoIsCreatedAndHeldOpen) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/unique_fd_test.fifo";
  FABRIC_ASSERT_OK_AND_ASSIGN(UniqueFd fd, MakeFifo(path, "control FIFO"));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // Another writer's bytes reach the holder's end.
  UniqueFd w(open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(w.valid());
  ASSERT_EQ(write(w.get(), "ab", 2), 2);
  char buf[2];
  EXPECT_EQ(read(fd.get(), buf, 2), 2);
  unlink(path.c_str());
}

TEST(UniqueFdTest, FifoInAMissingDirectoryNamesIt) {
  absl::Status st = MakeFifo("/nonexistent-dir/x.fifo", "spare FIFO").status();
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()),
              ::testing::HasSubstr("spare FIFO /nonexistent-dir/x.fifo: No such file"));
}

TEST(PosixErrorTest, MessageAndCode) {
  absl::Status st = PosixError("open x", EACCES);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "open x: Permission denied");
  EXPECT_EQ(PosixError("y", EIO).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(PosixError("y", EMFILE).code(), absl::StatusCode::kResourceExhausted);
  errno = ENOENT;
  EXPECT_EQ(ErrnoError("z").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fabric
