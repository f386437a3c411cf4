#include "common/test_ca.h"

#include <stdlib.h>

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/subprocess.h"

namespace fabric {
namespace {

absl::Status Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  absl::StatusOr<CommandResult> r = RunCommand(args, "", absl::Seconds(60));
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "), ": ", r->err));
  }
  return absl::OkStatus();
}

}  // namespace

TestCa::~TestCa() {
  if (!dir_.empty()) (void)RunCommand({"rm", "-rf", dir_}, "", absl::Seconds(10));
}

TestCa::TestCa(TestCa&& other) noexcept { *this = std::move(other); }

TestCa& TestCa::operator=(TestCa&& other) noexcept {
  if (this != &other) {
    if (!dir_.empty()) (void)RunCommand({"rm", "-rf", dir_}, "", absl::Seconds(10));
    dir_ = std::move(other.dir_);
    ca_cert_ = std::move(other.ca_cert_);
    ca_key_ = std::move(other.ca_key_);
    other.dir_.clear();
  }
  return *this;
}

absl::StatusOr<TestCa> TestCa::Create() {
  char tmpl[] = "/tmp/fabric-ca-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  TestCa ca;
  ca.dir_ = tmpl;
  ca.ca_cert_ = ca.dir_ + "/ca.crt";
  ca.ca_key_ = ca.dir_ + "/ca.key";
  absl::Status s =
      Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
               "-nodes", "-keyout", ca.ca_key_, "-out", ca.ca_cert_, "-days", "1", "-subj",
               absl::StrCat("/CN=fabric-test-ca-", ca.dir_.substr(ca.dir_.size() - 6))});
  if (!s.ok()) return s;
  return ca;
}

absl::StatusOr<TestCert> TestCa::Issue(const std::string& name,
                                       const std::vector<std::string>& alt_names) const {
  TestCert c;
  c.cert = absl::StrCat(dir_, "/", name, ".crt");
  c.key = absl::StrCat(dir_, "/", name, ".key");
  const std::string csr = absl::StrCat(dir_, "/", name, ".csr");
  const std::string ext = absl::StrCat(dir_, "/", name, ".ext");
  std::ofstream(ext) << "subjectAltName=" << absl::StrJoin(alt_names, ",") << "\n";
  absl::Status s =
      Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-keyout", c.key, "-out", csr, "-subj", absl::StrCat("/CN=", name)});
  if (!s.ok()) return s;
  s = Openssl({"x509", "-req", "-in", csr, "-CA", ca_cert_, "-CAkey", ca_key_, "-CAcreateserial",
               "-out", c.cert, "-days", "1", "-extfile", ext});
  if (!s.ok()) return s;
  return c;
}

}  // namespace fabric
