#include "common/munge.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/munge_daemon.h"
#include "common/status_matchers.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

constexpr char kSuccess[] =
    "STATUS:          Success (0)\n"
    "ENCODE_HOST:     n1 (10.0.0.1)\n"
    "TTL:             3600\n"
    "UID:             alice (1001)\n"
    "GID:             users (100)\n"
    "LENGTH:          9\n"
    "\n"
    "slurm-5.0";

TEST(ParseUnmungeOutputTest, ReadsUidGidAndPayload) {
  absl::StatusOr<MungeIdentity> id = ParseUnmungeOutput(kSuccess);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->uid, 1001u);
  EXPECT_EQ(id->gid, 100u);
  EXPECT_EQ(id->payload, "slurm-5.0");
}

TEST(ParseUnmungeOutputTest, RefusesEveryStatusButSuccess) {
  absl::StatusOr<MungeIdentity> id = ParseUnmungeOutput(
      "STATUS:          Replayed credential (17)\nUID: root (0)\nGID: root (0)\n\nx");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(id.status().message(), HasSubstr("Replayed credential"));
}

TEST(ParseUnmungeOutputTest, MalformedOutputIsAnError) {
  EXPECT_EQ(ParseUnmungeOutput("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUnmungeOutput("STATUS: Success (0)\nUID: root\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MungeSocketFromSlurmConfTest, FindsTheSocketInAuthInfo) {
  EXPECT_EQ(MungeSocketFromSlurmConf("ClusterName=c\nAuthType=auth/munge\n"
                                     "AuthInfo=cred_expire=120,socket=/run/m/m.sock\n"),
            "/run/m/m.sock");
  EXPECT_EQ(MungeSocketFromSlurmConf("authinfo = socket=/a  # comment\n"), "/a");
  EXPECT_EQ(MungeSocketFromSlurmConf("#AuthInfo=socket=/commented\nAuthType=auth/munge\n"), "");
  EXPECT_EQ(MungeSocketFromSlurmConf("AuthInfoX=socket=/no\n"), "");
}

TEST(MungeSocketForTest, ExplicitVariableWinsOverSlurmConf) {
  char dir[] = "/tmp/fabric-munge-conf-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string conf = absl::StrCat(dir, "/slurm.conf");
  std::ofstream(conf) << "AuthInfo=socket=/from/conf\n";
  EXPECT_EQ(MungeSocketFor({{"SLURM_CONF", conf}}), "/from/conf");
  EXPECT_EQ(MungeSocketFor({{"SLURM_CONF", conf}, {"FABRIC_MUNGE_SOCKET", "/explicit"}}),
            "/explicit");
  EXPECT_EQ(MungeSocketFor({{"SLURM_CONF", "/nonexistent/slurm.conf"}}), "");
  unlink(conf.c_str());
  rmdir(dir);
}

TEST(MungeTest, RealDaemonRoundTripAndRefusals) {
  MungeDaemon a, b;  // two clusters: two keys
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());

  absl::StatusOr<std::string> cred = MungeEncode(a.socket(), "slurm-7.0", 3600);
  ASSERT_TRUE(cred.ok()) << cred.status();
  absl::StatusOr<MungeIdentity> id = MungeDecode(a.socket(), *cred);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->uid, getuid());
  EXPECT_EQ(id->gid, getgid());
  EXPECT_EQ(id->payload, "slurm-7.0");

  // munged refuses a second decode of one credential: the verifier must cache.
  EXPECT_EQ(MungeDecode(a.socket(), *cred).status().code(), absl::StatusCode::kUnauthenticated);
  // Another cluster's key, and something that is not a credential at all.
  absl::StatusOr<std::string> foreign = MungeEncode(b.socket(), "slurm-7.0", 3600);
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  EXPECT_EQ(MungeDecode(a.socket(), *foreign).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(MungeDecode(a.socket(), "not-a-credential").status().code(),
            absl::StatusCode::kUnauthenticated);
  // No daemon behind the socket: unavailable, not "refused".
  EXPECT_EQ(MungeEncode(a.dir() + "/nothing.socket", "x", 60).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace fabric
