// SLURM hostlist and tasks-per-node syntax: pure string functions.
//
// Hostlists ("node[01-03,07]", "rack[1-2]-node[01-04],login1"):
//   - a top-level list separated by commas (or whitespace), where commas inside
//     brackets belong to the bracket;
//   - any number of bracket groups per element; the leftmost group varies slowest,
//     as SLURM expands them ("r[1-2]n[1-2]" -> r1n1 r1n2 r2n1 r2n2);
//   - a bracket holds numbers and ranges "lo-hi"; the width of `lo` is kept as zero
//     padding ("[08-10]" -> 08 09 10, "[8-10]" -> 8 9 10).
// Tasks per node ("2(x3),1"): counts, each optionally repeated with "(xN)".
//
// Thread safety: all functions are pure and thread-safe.
// Failure: malformed input returns InvalidArgument naming the input, the position
// (0-based character offset) and the problem. Nothing here crashes on bad input.
#ifndef FABRIC_SLURM_HOSTLIST_H_
#define FABRIC_SLURM_HOSTLIST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric::slurm {

// Most hosts one hostlist may expand to (guards against "n[0-999999999]").
inline constexpr int kMaxExpandedHosts = 1 << 20;

// Expands a hostlist into host names, in order, duplicates kept. An empty (or
// all-whitespace) string expands to an empty list.
absl::StatusOr<std::vector<std::string>> ExpandHostlist(absl::string_view hostlist);

// The inverse of ExpandHostlist: merges runs of hosts that differ only in their last
// number into bracket ranges, keeping order and zero padding, such that
// ExpandHostlist(CompressHostlist(h)) == h. Returns InvalidArgument if a name is
// empty or contains '[', ']', ',' or whitespace.
absl::StatusOr<std::string> CompressHostlist(const std::vector<std::string>& hosts);

// Decodes SLURM_TASKS_PER_NODE / SLURM_STEP_TASKS_PER_NODE ("2(x3),1" -> {2,2,2,1}).
// Counts must be >= 1, repeats >= 1.
absl::StatusOr<std::vector<int>> DecodeTasksPerNode(absl::string_view spec);

// Encodes counts in SLURM's compressed form ({2,2,2,1} -> "2(x3),1").
std::string EncodeTasksPerNode(const std::vector<int>& counts);

}  // namespace fabric::slurm

#endif  // FABRIC_SLURM_HOSTLIST_H_
