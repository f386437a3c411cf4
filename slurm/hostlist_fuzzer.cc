// libFuzzer target: SLURM's hostlist and tasks-per-node parsers. Input: a hostlist, then
// (after the first newline) a tasks-per-node spec. Invariants: OK or one InvalidArgument
// line; Expand(Compress(Expand(x))) == Expand(x); Decode(Encode(Decode(y))) == Decode(y).
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "slurm/hostlist.h"
#include "tools/fuzz/check.h"

namespace {

void CheckRefusal(const absl::Status& s) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, s.ToString());
  FUZZ_CHECK(!absl::StrContains(s.message(), "\n"), s.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fabric::slurm;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string hostlist = in.substr(0, nl);
  const std::string tasks = nl == std::string::npos ? "" : in.substr(nl + 1);

  absl::StatusOr<std::vector<std::string>> hosts = ExpandHostlist(hostlist);
  if (!hosts.ok()) {
    CheckRefusal(hosts.status());
  } else if (hosts->size() <= 20000) {
    absl::StatusOr<std::string> compressed = CompressHostlist(*hosts);
    if (compressed.ok()) {
      absl::StatusOr<std::vector<std::string>> again = ExpandHostlist(*compressed);
      FUZZ_CHECK(again.ok(), *compressed);
      FUZZ_CHECK(*again == *hosts, hostlist + " -> " + *compressed);
    } else {
      CheckRefusal(compressed.status());
    }
  }

  absl::StatusOr<std::vector<int>> counts = DecodeTasksPerNode(tasks);
  if (!counts.ok()) {
    CheckRefusal(counts.status());
  } else if (counts->size() <= 20000) {
    const std::string encoded = EncodeTasksPerNode(*counts);
    absl::StatusOr<std::vector<int>> again = DecodeTasksPerNode(encoded);
    FUZZ_CHECK(again.ok(), encoded);
    FUZZ_CHECK(*again == *counts, tasks + " -> " + encoded);
  }
  return 0;
}
