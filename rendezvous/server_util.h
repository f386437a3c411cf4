// Pieces shared by the gRPC services: call authentication (a token or MUNGE
// credentials) and the replay cache that makes retried mutating calls idempotent.
//
// Thread safety: ReplayCache and CallAuthenticator are safe for concurrent use; the
// functions are pure.
#ifndef FABRIC_RENDEZVOUS_SERVER_UTIL_H_
#define FABRIC_RENDEZVOUS_SERVER_UTIL_H_

#include <sys/types.h>

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/munge.h"
#include "grpcpp/server_context.h"
#include "proto/job.pb.h"

namespace fabric {
namespace rendezvous {

// The metadata key every call carries its token in when auth is on.
inline constexpr char kTokenMetadataKey[] = "x-fabric-token";

// OK when `got` equals `token`, compared in time independent of where they differ;
// UNAUTHENTICATED otherwise (the message never echoes either).
absl::Status CheckToken(const std::string& got, const std::string& token);

// Who may call the server. Off (no token, no munge), a shared token, or MUNGE: the
// x-fabric-token metadata then holds a credential, accepted when munged decodes it, its
// uid is `uid` (the server's own) and its payload is `run_id` (when set). munged
// decodes a credential only once, so verified credentials are remembered (bounded) and
// an agent presents the same one on every call.
struct AuthOptions {
  std::string token;  // shared secret; empty with munge false: auth off
  bool munge = false;
  std::string munge_socket;  // empty: munge's default socket
  uid_t uid = 0;
  std::string run_id;
  // Test seam: decodes a credential (default: MungeDecode(munge_socket, credential)).
  std::function<absl::StatusOr<MungeIdentity>(const std::string&)> decode;
};

class CallAuthenticator {
 public:
  explicit CallAuthenticator(AuthOptions options);
  bool enabled() const { return options_.munge || !options_.token.empty(); }
  // OK when auth is off or the call's metadata passes; UNAUTHENTICATED naming what was
  // wrong (never echoing a token or credential) otherwise.
  absl::Status Check(const grpc::ServerContextBase& ctx);
  // The same on the presented value (null: the call carried none).
  absl::Status CheckPresented(const std::string* presented);

 private:
  absl::Status CheckMunge(const std::string& credential);

  const AuthOptions options_;
  absl::Mutex mu_;  // serializes decodes: one credential is never decoded twice at once
  absl::flat_hash_set<std::string> verified_ ABSL_GUARDED_BY(mu_);
};

// FAILED_PRECONDITION naming both versions unless `header` speaks ours.
absl::Status CheckVersion(const fabric::v1::Header& header);

// Remembers the outcome of recent mutating calls by (node id, request id), so that a
// retry after a lost response gets the first outcome instead of applying the call
// again. Bounded: the oldest entries are forgotten first.
class ReplayCache {
 public:
  struct Entry {
    absl::Status status;
    std::string response;  // serialized response message
  };
  explicit ReplayCache(size_t capacity = 1 << 16) : capacity_(capacity) {}

  // Empty key (no request id) never hits.
  static std::string Key(const fabric::v1::Header& header);
  std::optional<Entry> Lookup(const std::string& key);
  void Insert(const std::string& key, Entry entry);

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_SERVER_UTIL_H_
