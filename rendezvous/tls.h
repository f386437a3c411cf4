// TLS for the rendezvous (optional): the server presents a certificate; clients verify
// it against a CA; optionally the server requires client certificates signed by that CA
// (mutual TLS, which then authenticates every agent: doc/reliability.md).
//
//   agent:  --rdzv-tls-ca CA.pem [--rdzv-tls-cert CERT.pem --rdzv-tls-key KEY.pem]
//           [--rdzv-tls-client-auth]
//   server: fabric-rendezvous --tls-cert CERT.pem --tls-key KEY.pem [--tls-client-ca CA.pem]
//
// The agent that hosts the rendezvous serves with its cert/key; every agent, the host
// included, dials with the CA (and presents its cert/key when it has them). A server
// certificate must name the address the agents dial (DNS or IP subjectAltName).
//
// Thread safety: plain values and pure functions (LoadTls reads files).
#ifndef FABRIC_RENDEZVOUS_TLS_H_
#define FABRIC_RENDEZVOUS_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace fabric {
namespace rendezvous {

struct TlsFiles {
  std::string ca;    // PEM CA bundle: clients verify the server; the server verifies clients
  std::string cert;  // PEM certificate chain (server's, or a client's)
  std::string key;   // PEM private key of `cert`
  bool require_client_cert = false;  // server side: mutual TLS
};

struct TlsConfig {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  bool require_client_cert = false;
  bool enabled() const { return !ca_pem.empty() || !cert_pem.empty(); }
};

// Reads the files. INVALID_ARGUMENT naming the flag's file when one cannot be read or is
// not PEM, when only one of cert/key is given, or client auth is asked without a CA.
absl::StatusOr<TlsConfig> LoadTls(const TlsFiles& files);

// Insecure when !tls.enabled(). A client verifies the server against tls.ca_pem (the
// system roots when empty) and presents tls.cert_pem/key_pem when set.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const TlsConfig& tls);

// Insecure when !tls.enabled(); else the certificate and key, and (require_client_cert)
// client certificates verified against tls.ca_pem. REQUIRES: cert and key when enabled.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const TlsConfig& tls);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_TLS_H_
