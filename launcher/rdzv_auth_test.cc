#include "launcher/rdzv_auth.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "common/munge.h"
#include "common/munge_daemon.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Row {
  const char* name;
  RdzvAuthFacts facts;
  bool ok;
  RdzvAuthMode mode;
  bool warns;
};

TEST(DecideRdzvAuthTest, Table) {
  auto F = [](bool token, bool insecure, bool loopback, bool slurm, bool torchrun) {
    RdzvAuthFacts f;
    f.has_token = token;
    f.insecure = insecure;
    f.loopback = loopback;
    f.under_slurm = slurm;
    f.torchrun = torchrun;
    f.endpoint = "10.0.0.1:29400";
    return f;
  };
  auto Mtls = [](RdzvAuthFacts f) {
    f.mutual_tls = true;
    return f;
  };
  const Row rows[] = {
      {"token everywhere", F(true, false, false, false, false), true, RdzvAuthMode::kToken, false},
      {"token beats munge", F(true, false, false, true, false), true, RdzvAuthMode::kToken, false},
      {"token on loopback", F(true, false, true, false, false), true, RdzvAuthMode::kToken, false},
      {"mutual tls off loopback", Mtls(F(false, false, false, false, false)), true,
       RdzvAuthMode::kMutualTls, false},
      {"mutual tls under slurm", Mtls(F(false, false, false, true, false)), true,
       RdzvAuthMode::kMutualTls, false},
      {"loopback needs none", F(false, false, true, false, false), true, RdzvAuthMode::kNone,
       false},
      {"loopback under slurm", F(false, false, true, true, false), true, RdzvAuthMode::kNone,
       false},
      {"insecure asked for", F(false, true, false, false, false), true, RdzvAuthMode::kNone, false},
      {"insecure beats munge", F(false, true, false, true, false), true, RdzvAuthMode::kNone,
       false},
      {"slurm: munge", F(false, false, false, true, false), true, RdzvAuthMode::kMunge, false},
      {"slurm as torchrun: munge", F(false, false, false, true, true), true, RdzvAuthMode::kMunge,
       false},
      {"torchrun: open, warned", F(false, false, false, false, true), true, RdzvAuthMode::kNone,
       true},
      {"open network: refused", F(false, false, false, false, false), false, RdzvAuthMode::kNone,
       false},
  };
  for (const Row& r : rows) {
    absl::StatusOr<RdzvAuthDecision> d = DecideRdzvAuth(r.facts);
    ASSERT_EQ(d.ok(), r.ok) << r.name << ": " << d.status();
    if (!r.ok) {
      EXPECT_THAT(d.status(),
                  StatusIs(absl::StatusCode::kFailedPrecondition,
                           AllOf(HasSubstr("10.0.0.1:29400"), HasSubstr("--rdzv-token-file"),
                                 HasSubstr("--rdzv-insecure"))))
          << r.name;
      EXPECT_EQ(d.status().message().find('\n'), absl::string_view::npos) << r.name;
      continue;
    }
    EXPECT_EQ(d->mode, r.mode) << r.name;
    EXPECT_EQ(!d->warning.empty(), r.warns) << r.name;
  }
}

LaunchOptions Launch(const std::string& address) {
  LaunchOptions o;
  o.main_address = address;
  o.main_port = 29400;
  o.min_nodes = o.max_nodes = 2;
  o.run_id = "slurm-9.0";
  return o;
}

TEST(ResolveRdzvAuthTest, LoopbackAndTokensNeedNoMunge) {
  FABRIC_ASSERT_OK_AND_ASSIGN(RdzvAuth a, ResolveRdzvAuth(Launch("127.0.0.1"), {}));
  EXPECT_EQ(a.mode, RdzvAuthMode::kNone);
  LaunchOptions t = Launch("192.0.2.1");
  t.rdzv_token = "s3cret";
  FABRIC_ASSERT_OK_AND_ASSIGN(a, ResolveRdzvAuth(t, {}));
  EXPECT_EQ(a.mode, RdzvAuthMode::kToken);
  EXPECT_EQ(a.presented, "s3cret");

  const std::string file = ::testing::TempDir() + "/token";
  std::ofstream(file) << "  from-file\n";
  t.rdzv_token.clear();
  t.rdzv_token_file = file;
  FABRIC_ASSERT_OK_AND_ASSIGN(a, ResolveRdzvAuth(t, {}));
  EXPECT_EQ(a.presented, "from-file");
  t.rdzv_token_file = ::testing::TempDir() + "/no-such-token";
  EXPECT_THAT(ResolveRdzvAuth(t, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no-such-token")));
}

TEST(ResolveRdzvAuthTest, AnOpenEndpointIsRefusedUnlessInsecure) {
  LaunchOptions o = Launch("192.0.2.1");
  EXPECT_THAT(ResolveRdzvAuth(o, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("192.0.2.1:29400")));
  o.rdzv_endpoint = "rdzv.example.invalid:1234";
  EXPECT_THAT(ResolveRdzvAuth(o, {}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                               HasSubstr("rdzv.example.invalid:1234")));
  o.rdzv_insecure = true;
  FABRIC_ASSERT_OK_AND_ASSIGN(RdzvAuth a, ResolveRdzvAuth(o, {}));
  EXPECT_EQ(a.mode, RdzvAuthMode::kNone);
  EXPECT_THAT(a.warning, IsEmpty());
}

TEST(ResolveRdzvAuthTest, SlurmJobGetsAMungeCredentialForItsRun) {
  MungeDaemon munged;
  ASSERT_THAT(munged.Start(), IsOk());
  const std::map<std::string, std::string> env = {{"SLURM_JOB_ID", "9"},
                                                  {"FABRIC_MUNGE_SOCKET", munged.socket()}};
  FABRIC_ASSERT_OK_AND_ASSIGN(RdzvAuth a, ResolveRdzvAuth(Launch("192.0.2.1"), env));
  EXPECT_EQ(a.mode, RdzvAuthMode::kMunge);
  EXPECT_EQ(a.munge_socket, munged.socket());
  FABRIC_ASSERT_OK_AND_ASSIGN(MungeIdentity id, MungeDecode(munged.socket(), a.presented));
  EXPECT_EQ(id.uid, getuid());
  EXPECT_EQ(id.payload, "slurm-9.0");
}

TEST(ResolveRdzvAuthTest, BrokenMungeInASlurmJobIsAClearErrorOrATorchrunWarning) {
  const std::map<std::string, std::string> env = {
      {"SLURM_JOB_ID", "9"}, {"FABRIC_MUNGE_SOCKET", "/nonexistent/munge.socket"}};
  EXPECT_THAT(ResolveRdzvAuth(Launch("192.0.2.1"), env),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("munge"), HasSubstr("--rdzv-insecure"))));
  LaunchOptions as_torchrun = Launch("192.0.2.1");
  as_torchrun.torchrun = true;
  FABRIC_ASSERT_OK_AND_ASSIGN(RdzvAuth a, ResolveRdzvAuth(as_torchrun, env));
  EXPECT_EQ(a.mode, RdzvAuthMode::kNone);
  EXPECT_THAT(a.warning, HasSubstr("unauthenticated"));
}

}  // namespace
}  // namespace fabric::launcher
