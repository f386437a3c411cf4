#include "common/endpoint.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/net.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

TEST(EndpointTest, SplitsHostAndPort) {
  std::string host, port;
  ASSERT_TRUE(SplitHostPort("node-0.job:23456", &host, &port));
  EXPECT_EQ(host, "node-0.job");
  EXPECT_EQ(port, "23456");
  ASSERT_TRUE(SplitHostPort("[::1]:29400", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitHostPort("node-0", &host, &port));
  EXPECT_FALSE(SplitHostPort(":29400", &host, &port));
}

TEST(EndpointTest, RecognizesThisHost) {
  EXPECT_TRUE(IsThisHost("localhost"));
  EXPECT_TRUE(IsThisHost("127.0.0.1"));
  EXPECT_TRUE(IsThisHost("127.0.0.2"));
  EXPECT_TRUE(IsThisHost(LocalHostname()));
  // A Kubernetes pod's service name: its first label is the pod's host name, and it
  // need not resolve.
  EXPECT_TRUE(IsThisHost(absl::StrCat(LocalHostname(), ".job.default.svc")));
  // Negative controls: an address of no interface here (TEST-NET-1) and a name that
  // cannot resolve.
  EXPECT_FALSE(IsThisHost("192.0.2.1"));
  EXPECT_FALSE(IsThisHost("no-such-host.invalid"));
  EXPECT_FALSE(IsThisHost(""));
}

TEST(EndpointTest, LoopbackHostsAreOnlyTheLoopbackOnes) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.3.4.5"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  // Reachable from elsewhere, or unknown: not loopback.
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("192.0.2.1"));
  EXPECT_FALSE(IsLoopbackHost("10.1.2.3"));
  EXPECT_FALSE(IsLoopbackHost("no-such-host.invalid"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(EndpointTest, WaitForListenerConnectsToAListeningPort) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  EXPECT_TRUE(WaitForListener("127.0.0.1", absl::StrCat(ntohs(a.sin_port)),
                              absl::Now() + absl::Seconds(5)));
  close(fd);
}

TEST(EndpointTest, WaitForListenerReportsAnUnresolvableNameUntilTheDeadline) {
  std::vector<std::string> reports;
  const absl::Time start = absl::Now();
  EXPECT_FALSE(
      WaitForListener("no-such-host.invalid", "29400", start + absl::Milliseconds(2500),
                      [&](absl::string_view why, absl::Duration) { reports.emplace_back(why); }));
  EXPECT_GE(absl::Now() - start, absl::Seconds(2));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_THAT(reports[0], HasSubstr("no-such-host.invalid does not resolve"));
}

TEST(EndpointTest, WaitForListenerGivesUpOnARefusedPort) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok());
  EXPECT_FALSE(
      WaitForListener("127.0.0.1", absl::StrCat(*port), absl::Now() + absl::Milliseconds(300)));
}

}  // namespace
}  // namespace fabric
