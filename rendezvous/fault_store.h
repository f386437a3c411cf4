// FaultInjectingStore: a Store decorator (leveldb's ErrorEnv for stores) that loses
// calls as its FaultInjector decides: kDropRequest returns UNAVAILABLE without calling
// the base store; kDropResponse calls it and then returns UNAVAILABLE. For testing how
// store users cope with lost calls; a retrying user of this decorator sees a non-
// idempotent call (Add) applied twice, which is why GrpcStore carries request ids.
//
// Thread safety: as the base store. Owns neither `base` nor `faults`.
#ifndef FABRIC_RENDEZVOUS_FAULT_STORE_H_
#define FABRIC_RENDEZVOUS_FAULT_STORE_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rendezvous/fault_injector.h"
#include "rendezvous/store.h"

namespace fabric {
namespace rendezvous {

class FaultInjectingStore final : public Store {
 public:
  FaultInjectingStore(Store* base, FaultInjector* faults) : base_(base), faults_(faults) {}

  absl::Status Set(const std::string& key, const std::string& value) override {
    return Apply("set " + key, [&] { return base_->Set(key, value); });
  }
  absl::StatusOr<std::string> Get(const std::string& key, absl::Time deadline) override {
    return Apply("get " + key, [&] { return base_->Get(key, deadline); });
  }
  absl::StatusOr<int64_t> Add(const std::string& key, int64_t delta) override {
    return Apply("add " + key, [&] { return base_->Add(key, delta); });
  }
  absl::StatusOr<std::string> CompareSet(const std::string& key, const std::string& expected,
                                         const std::string& desired) override {
    return Apply("compare_set " + key,
                 [&] { return base_->CompareSet(key, expected, desired); });
  }
  absl::Status Wait(const std::vector<std::string>& keys, absl::Time deadline) override {
    return Apply("wait", [&] { return base_->Wait(keys, deadline); });
  }
  absl::StatusOr<bool> Delete(const std::string& key) override {
    return Apply("delete " + key, [&] { return base_->Delete(key); });
  }

 private:
  template <typename Fn>
  auto Apply(const std::string& what, Fn fn) -> decltype(fn()) {
    switch (faults_->Next()) {
      case FaultMode::kDropRequest:
        return absl::UnavailableError(absl::StrCat("injected fault: request lost (", what, ")"));
      case FaultMode::kDropResponse:
        (void)fn();
        return absl::UnavailableError(absl::StrCat("injected fault: response lost (", what, ")"));
      case FaultMode::kNone:
        break;
    }
    return fn();
  }

  Store* const base_;
  FaultInjector* const faults_;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_FAULT_STORE_H_
