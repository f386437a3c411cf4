// Store: the key-value contract of a run (modeled on c10d's Store): enough to exchange
// bootstrap data and to build barriers. Implementations: InMemoryStore (memory_store.h),
// GrpcStore (grpc_store.h, the client side of the rendezvous server's store),
// PrefixStore (namespacing decorator) and FaultInjectingStore (tests).
//
// Deadlines are absolute real times (absl::Now() based), passed with each call.
// Thread safety: every implementation is safe for concurrent use.
#ifndef FABRIC_RENDEZVOUS_STORE_H_
#define FABRIC_RENDEZVOUS_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fabric {
namespace rendezvous {

class Store {
 public:
  virtual ~Store() = default;

  // Stores `value` under `key`, replacing any previous value. Wakes waiters.
  virtual absl::Status Set(const std::string& key, const std::string& value) = 0;

  // The value of `key`, waiting until it exists. DEADLINE_EXCEEDED naming the key when
  // `deadline` passes first.
  virtual absl::StatusOr<std::string> Get(const std::string& key, absl::Time deadline) = 0;

  // Adds `delta` to the integer stored at `key` (absent = 0) and returns the new value.
  // INVALID_ARGUMENT when the stored value is not an integer.
  virtual absl::StatusOr<int64_t> Add(const std::string& key, int64_t delta) = 0;

  // Sets `key` to `desired` when its value is `expected` (an absent key matches an empty
  // `expected`). Returns the value stored afterwards (c10d's compareSet).
  virtual absl::StatusOr<std::string> CompareSet(const std::string& key,
                                                 const std::string& expected,
                                                 const std::string& desired) = 0;

  // Waits until every key exists. DEADLINE_EXCEEDED naming the missing keys.
  virtual absl::Status Wait(const std::vector<std::string>& keys, absl::Time deadline) = 0;

  // Removes `key`; returns whether it existed.
  virtual absl::StatusOr<bool> Delete(const std::string& key) = 0;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_STORE_H_
