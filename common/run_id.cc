#include "common/run_id.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fabric {
namespace {

uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string SlurmRunId(int64_t job_id, int64_t step_id) {
  return absl::StrCat("slurm-", job_id, ".", step_id);
}

std::string LocalRunId(int pid, absl::Time salt) {
  const uint64_t h = Fnv1a(absl::StrCat(pid, "/", absl::ToUnixNanos(salt)));
  return absl::StrCat("fabric-", pid, "-", absl::Hex(h & 0xffffffffu));
}

std::string SharedRunId(absl::string_view rendezvous_address) {
  return absl::StrCat("fabric-", absl::Hex(Fnv1a(rendezvous_address) & 0xffffffffu));
}

bool IsValidRunId(absl::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace fabric
