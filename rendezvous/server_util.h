// Pieces shared by the gRPC services: token authentication and the replay cache that
// makes retried mutating calls idempotent.
//
// Thread safety: ReplayCache is safe for concurrent use; the functions are pure.
#ifndef FABRIC_RENDEZVOUS_SERVER_UTIL_H_
#define FABRIC_RENDEZVOUS_SERVER_UTIL_H_

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "proto/job.pb.h"

namespace fabric {
namespace rendezvous {

// The metadata key every call carries its token in when auth is on.
inline constexpr char kTokenMetadataKey[] = "x-fabric-token";

// OK when `token` is empty (auth off) or the call carries it; UNAUTHENTICATED otherwise
// (the message never echoes either token).
absl::Status CheckToken(const grpc::ServerContextBase& ctx, const std::string& token);

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
