#include "common/net.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

TEST(NetTest, PickedPortIsFree) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  EXPECT_GT(port, 0);
  EXPECT_THAT(CheckPortFree(port), IsOk());
}

TEST(NetTest, ListeningPortIsReportedInUse) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  EXPECT_THAT(CheckPortFree(port),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
  close(fd);
}

TEST(NetTest, OutOfRangePortIsInvalid) {
  EXPECT_THAT(CheckPortFree(70000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("70000")));
}

}  // namespace
}  // namespace fabric
