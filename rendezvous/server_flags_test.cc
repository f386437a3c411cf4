#include "rendezvous/server_flags.h"

#include <cstdio>
#include <fstream>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::HasSubstr;

TEST(ServerFlagsTest, DefaultsAndValues) {
  FABRIC_ASSERT_OK_AND_ASSIGN(ServerOptions o, ParseServerFlags({}, {}));
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 29400);
  EXPECT_TRUE(o.token.empty());
  FABRIC_ASSERT_OK_AND_ASSIGN(
      o, ParseServerFlags({"--host", "0.0.0.0", "--port=0", "--keepalive-timeout", "750ms",
                           "--last-call-timeout=2s", "--join-timeout", "1m", "--run-id", "r"},
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
