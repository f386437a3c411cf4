#include "rendezvous/server_util.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CheckTokenTest, EqualOnlyWhenEveryByteAndTheLengthMatch) {
  EXPECT_THAT(CheckToken("s3cret", "s3cret"), IsOk());
  EXPECT_THAT(CheckToken("s3cre", "s3cret"),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(CheckToken("s3cretX", "s3cret"),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(CheckToken("", "s3cret"), StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  absl::Status s = CheckToken("guess", "s3cret");
  EXPECT_THAT(s.message(), Not(HasSubstr("s3cret")));
  EXPECT_THAT(s.message(), Not(HasSubstr("guess")));
}

TEST(CallAuthenticatorTest, OffAcceptsAnything) {
  CallAuthenticator auth(AuthOptions{});
  EXPECT_FALSE(auth.enabled());
  EXPECT_THAT(auth.CheckPresented(nullptr), IsOk());
}

// Munge with a fake decoder: what munged would say for each credential.
class MungeAuthTest : public ::testing::Test {
 protected:
  CallAuthenticator Make() {
    AuthOptions o;
    o.munge = true;
    o.uid = 1001;
    o.run_id = "slurm-5.0";
    o.decode = [this](const std::string& cred) -> absl::StatusOr<MungeIdentity> {
      ++decodes_;
      if (cred == "MUNGE:good") return MungeIdentity{1001, 100, "slurm-5.0"};
      if (cred == "MUNGE:root") return MungeIdentity{0, 0, "slurm-5.0"};
      if (cred == "MUNGE:otherrun") return MungeIdentity{1001, 100, "slurm-6.0"};
      return absl::UnauthenticatedError("munge credential refused: Invalid credential (6)");
    };
    return CallAuthenticator(o);
  }
  int decodes_ = 0;
};

TEST_F(MungeAuthTest, AcceptsTheServersUidForItsRunAndDecodesEachCredentialOnce) {
  CallAuthenticator auth = Make();
  const std::string good = "MUNGE:good";
  EXPECT_THAT(auth.CheckPresented(&good), IsOk());
  EXPECT_THAT(auth.CheckPresented(&good), IsOk());
  EXPECT_THAT(auth.CheckPresented(&good), IsOk());
  EXPECT_EQ(decodes_, 1) << "munged refuses a replayed credential: decode it once";
}

TEST_F(MungeAuthTest, RefusesOtherUidsOtherRunsBadCredentialsAndTokens) {
  CallAuthenticator auth = Make();
  const std::string root = "MUNGE:root", other = "MUNGE:otherrun", bad = "MUNGE:bad",
                    token = "s3cret";
  EXPECT_THAT(auth.CheckPresented(&root),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("uid 0")));
  EXPECT_THAT(auth.CheckPresented(&other),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("slurm-6.0")));
  EXPECT_THAT(auth.CheckPresented(&bad),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Invalid credential")));
  EXPECT_THAT(auth.CheckPresented(&token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no munge credential")));
  EXPECT_THAT(auth.CheckPresented(nullptr),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no munge credential")));
  // A refused credential is not remembered as good.
  EXPECT_THAT(auth.CheckPresented(&root),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
