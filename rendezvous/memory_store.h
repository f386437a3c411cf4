// InMemoryStore: the Store kept in this process; the rendezvous server serves it over
// gRPC. Besides the blocking Store calls it offers WatchAsync for callers that must not
// block a thread (the gRPC callback service).
//
// Thread safety: all methods may be called concurrently. Watch callbacks run on the
// thread that made the keys appear (or that called ExpireWatches), never under the
// store's lock.
#ifndef FABRIC_RENDEZVOUS_MEMORY_STORE_H_
#define FABRIC_RENDEZVOUS_MEMORY_STORE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "rendezvous/store.h"

namespace fabric {
namespace rendezvous {

class InMemoryStore final : public Store {
 public:
  // Receives the values of the watched keys (in the order asked), or DEADLINE_EXCEEDED.
  using WatchCallback = std::function<void(absl::StatusOr<std::vector<std::string>>)>;

  InMemoryStore() = default;
  InMemoryStore(const InMemoryStore&) = delete;
  InMemoryStore& operator=(const InMemoryStore&) = delete;

  absl::Status Set(const std::string& key, const std::string& value) override;
  absl::StatusOr<std::string> Get(const std::string& key, absl::Time deadline) override;
  absl::StatusOr<int64_t> Add(const std::string& key, int64_t delta) override;
  absl::StatusOr<std::string> CompareSet(const std::string& key, const std::string& expected,
                                         const std::string& desired) override;
  absl::Status Wait(const std::vector<std::string>& keys, absl::Time deadline) override;
  absl::StatusOr<bool> Delete(const std::string& key) override;

  // Calls `done` exactly once: with the values as soon as every key exists (inline when
  // they already do), or with DEADLINE_EXCEEDED from the first ExpireWatches(now) with
  // now >= deadline. `started` is only used to word the timeout message.
  void WatchAsync(std::vector<std::string> keys, absl::Time started, absl::Time deadline,
                  WatchCallback done);
  // Fails the watches whose deadline is <= now.
  void ExpireWatches(absl::Time now);

  size_t NumKeys();

 private:
  struct Watch {
    std::vector<std::string> keys;
    absl::Time started;
    absl::Time deadline;
    WatchCallback done;
  };
  using Fired = std::vector<std::pair<WatchCallback, absl::StatusOr<std::vector<std::string>>>>;

  // The still-missing keys of `keys`.
  std::vector<std::string> MissingLocked(const std::vector<std::string>& keys) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the watches satisfied by a write of `key` into `fired`.
  void CollectLocked(const std::string& key, Fired* fired) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Run(Fired* fired);

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> data_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Watch> watches_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, int64_t> watch_by_key_ ABSL_GUARDED_BY(mu_);
  int64_t next_watch_ ABSL_GUARDED_BY(mu_) = 1;
};

// "waited 50ms for 3 key(s): 1 present; missing: a, c".
std::string DescribeMissingKeys(absl::Duration waited, size_t total,
                                const std::vector<std::string>& missing);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_MEMORY_STORE_H_
