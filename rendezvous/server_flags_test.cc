#include "rendezvous/server_flags.h"

#include <cstdio>
#include <fstream>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ServerFlagsTest, DefaultsAndValues) {
  FABRIC_ASSERT_OK_AND_ASSIGN(ServerOptions o, ParseServerFlags({}, {}));
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 29400);
  EXPECT_TRUE(o.token.empty());
  FABRIC_ASSERT_OK_AND_ASSIGN(
      o,
      ParseServerFlags({"--host", "0.0.0.0", "--insecure", "--port=0", "--keepalive-timeout",
                        "750ms", "--last-call-timeout=2s", "--join-timeout", "1m", "--run-id", "r"},
                       {}));
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 0);
  EXPECT_EQ(o.keepalive_timeout, absl::Milliseconds(750));
  EXPECT_EQ(o.last_call_timeout, absl::Seconds(2));
  EXPECT_EQ(o.join_timeout, absl::Minutes(1));
  EXPECT_EQ(o.run_id, "r");
}

TEST(ServerFlagsTest, TokenPrecedenceFlagThenFileThenEnv) {
  const std::string file = ::testing::TempDir() + "/token";
  std::ofstream(file) << "from-file\n";
  std::map<std::string, std::string> env = {{"FABRIC_RDZV_TOKEN", "from-env"}};
  FABRIC_ASSERT_OK_AND_ASSIGN(ServerOptions o, ParseServerFlags({}, env));
  EXPECT_EQ(o.token, "from-env");
  FABRIC_ASSERT_OK_AND_ASSIGN(o, ParseServerFlags({"--token-file", file}, env));
  EXPECT_EQ(o.token, "from-file");
  FABRIC_ASSERT_OK_AND_ASSIGN(o, ParseServerFlags({"--token", "flag", "--token-file", file}, env));
  EXPECT_EQ(o.token, "flag");
}

TEST(ServerFlagsTest, AHostOthersCanReachNeedsAuthOrInsecure) {
  EXPECT_THAT(ParseServerFlags({"--host", "0.0.0.0"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("0.0.0.0"), HasSubstr("--insecure"),
                             HasSubstr("--token-file"), HasSubstr("--munge"))));
  EXPECT_THAT(ParseServerFlags({"--host", "192.0.2.1"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("192.0.2.1")));
  FABRIC_ASSERT_OK_AND_ASSIGN(ServerOptions o, ParseServerFlags({"--host", "localhost"}, {}));
  FABRIC_ASSERT_OK_AND_ASSIGN(o, ParseServerFlags({"--host", "0.0.0.0", "--token", "t"}, {}));
  FABRIC_ASSERT_OK_AND_ASSIGN(
      o, ParseServerFlags({"--host", "0.0.0.0"}, {{"FABRIC_RDZV_TOKEN", "t"}}));
  FABRIC_ASSERT_OK_AND_ASSIGN(
      o, ParseServerFlags({"--host", "0.0.0.0", "--munge", "--run-id", "slurm-3.0"},
                          {{"FABRIC_MUNGE_SOCKET", "/run/m.sock"}}));
  EXPECT_TRUE(o.munge);
  EXPECT_EQ(o.munge_socket, "/run/m.sock");
  EXPECT_THAT(ParseServerFlags({"--munge"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--run-id")));
  EXPECT_THAT(ParseServerFlags({"--munge", "--run-id", "r", "--token", "t"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exclude")));
}

TEST(ServerFlagsTest, BadInputNamesTheFlag) {
  EXPECT_THAT(ParseServerFlags({"--port", "70000"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--port")));
  EXPECT_THAT(ParseServerFlags({"--keepalive-timeout", "soon"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--keepalive-timeout")));
  EXPECT_THAT(ParseServerFlags({"--bogus"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--bogus")));
  EXPECT_THAT(ParseServerFlags({"--host"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing value")));
  EXPECT_THAT(ParseServerFlags({"--token-file", "/nonexistent/t"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/nonexistent/t")));
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
