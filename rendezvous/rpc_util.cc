#include "rendezvous/rpc_util.h"

#include <atomic>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace fabric {
namespace rendezvous {

std::string NewRequestId() {
  static const uint64_t process_salt = [] {
    absl::BitGen gen;
    return absl::Uniform<uint64_t>(gen);
  }();
  static std::atomic<uint64_t> counter{0};
  return absl::StrFormat("%016x-%d", process_salt, counter.fetch_add(1) + 1);
}

}  // namespace rendezvous
}  // namespace fabric
