// PrefixStore: a Store decorator that namespaces every key, e.g. "run/<id>/round/<n>/",
// so that one server store serves many runs and rounds without collisions.
//
// Thread safety: as the base store. Does not own `base`, which must outlive it.
#ifndef FABRIC_RENDEZVOUS_PREFIX_STORE_H_
#define FABRIC_RENDEZVOUS_PREFIX_STORE_H_

#include <string>
#include <vector>

#include "rendezvous/store.h"

namespace fabric {
namespace rendezvous {

class PrefixStore final : public Store {
 public:
  PrefixStore(std::string prefix, Store* base) : prefix_(std::move(prefix)), base_(base) {}

  // The conventional namespace of a run's round: "run/<run_id>/round/<round>/".
  static std::string RoundPrefix(const std::string& run_id, int64_t round);

  absl::Status Set(const std::string& key, const std::string& value) override {
    return base_->Set(prefix_ + key, value);
  }
  absl::StatusOr<std::string> Get(const std::string& key, absl::Time deadline) override {
    return base_->Get(prefix_ + key, deadline);
  }
  absl::StatusOr<int64_t> Add(const std::string& key, int64_t delta) override {
    return base_->Add(prefix_ + key, delta);
  }
  absl::StatusOr<std::string> CompareSet(const std::string& key, const std::string& expected,
                                         const std::string& desired) override {
    return base_->CompareSet(prefix_ + key, expected, desired);
  }
  absl::Status Wait(const std::vector<std::string>& keys, absl::Time deadline) override {
    std::vector<std::string> full;
    full.reserve(keys.size());
    for (const std::string& k : keys) full.push_back(prefix_ + k);
    return base_->Wait(full, deadline);
  }
  absl::StatusOr<bool> Delete(const std::string& key) override {
    return base_->Delete(prefix_ + key);
  }

 private:
  const std::string prefix_;
  Store* const base_;
};

inline std::string PrefixStore::RoundPrefix(const std::string& run_id, int64_t round) {
  return "run/" + run_id + "/round/" + std::to_string(round) + "/";
}

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_PREFIX_STORE_H_
