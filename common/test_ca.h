// TestCa (tests only): a certificate authority made at test time with the openssl tool,
// in a fresh directory, and certificates it signs (EC P-256, valid one day).
//
//   FABRIC_ASSERT_OK_AND_ASSIGN(TestCa ca, TestCa::Create());
//   FABRIC_ASSERT_OK_AND_ASSIGN(TestCert server, ca.Issue("server", {"DNS:localhost", "IP:127.0.0.1"}));
#ifndef FABRIC_COMMON_TEST_CA_H_
#define FABRIC_COMMON_TEST_CA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fabric {

struct TestCert {
  std::string cert;  // path of the PEM certificate
  std::string key;   // path of the PEM key
};

class TestCa {
 public:
  // Removes its directory (keys, certificates). Move-only: one owner of the directory.
  ~TestCa();
  TestCa(TestCa&& other) noexcept;
  TestCa& operator=(TestCa&& other) noexcept;
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // A new CA (its own key) in a new directory under /tmp.
  static absl::StatusOr<TestCa> Create();
  // A certificate named `name` (its CN and file names) with these subjectAltNames.
  absl::StatusOr<TestCert> Issue(const std::string& name,
                                 const std::vector<std::string>& alt_names) const;
  const std::string& ca_cert() const { return ca_cert_; }
  const std::string& dir() const { return dir_; }

 private:
  TestCa() = default;
  std::string dir_;
  std::string ca_cert_;
  std::string ca_key_;
};

}  // namespace fabric

#endif  // FABRIC_COMMON_TEST_CA_H_
