#include "rendezvous/tls.h"

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace fabric {
namespace rendezvous {
namespace {

absl::Status ReadPem(const std::string& path, const char* what, std::string* out) {
  if (path.empty()) return absl::OkStatus();
  std::optional<std::string> text = ReadFile(path);
  if (!text) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read '", path, "'"));
  *out = std::move(*text);
  if (!absl::StrContains(*out, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": '", path, "' is not a PEM file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsConfig> LoadTls(const TlsFiles& files) {
  TlsConfig c;
  if (absl::Status s = ReadPem(files.ca, "TLS CA", &c.ca_pem); !s.ok()) return s;
  if (absl::Status s = ReadPem(files.cert, "TLS certificate", &c.cert_pem); !s.ok()) return s;
  if (absl::Status s = ReadPem(files.key, "TLS key", &c.key_pem); !s.ok()) return s;
  if (c.cert_pem.empty() != c.key_pem.empty()) {
    return absl::InvalidArgumentError(
        "a TLS certificate needs its key and a key its certificate: give both");
  }
  c.require_client_cert = files.require_client_cert;
  if (c.require_client_cert && c.ca_pem.empty()) {
    return absl::InvalidArgumentError(
        "client certificates are verified against a CA: give the CA file too");
  }
  return c;
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = tls.ca_pem;
  o.pem_private_key = tls.key_pem;
  o.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(o);
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions o(
      tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  o.pem_root_certs = tls.ca_pem;
  o.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  return grpc::SslServerCredentials(o);
}

}  // namespace rendezvous
}  // namespace fabric
