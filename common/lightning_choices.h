// The strategies and precisions of Lightning's `--strategy`/`--precision` that
// fabric-run accepts. One list, here: the launcher validates its flags with it and the
// worker runtime resolves LT_STRATEGY/LT_PRECISION and its own options with it, so the
// two can never disagree about a name.
//
// Pure functions; thread-safe.
#ifndef FABRIC_COMMON_LIGHTNING_CHOICES_H_
#define FABRIC_COMMON_LIGHTNING_CHOICES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric {

// Canonical names, in the order help texts list them.
const std::vector<std::string>& Strategies();  // auto, single_device, ddp, ...
const std::vector<std::string>& Precisions();  // 32-true, 64-true, 16-true, ...

// The canonical strategy for `value` (case-insensitive; "single" = "single_device").
// InvalidArgument otherwise, whose message is a predicate for the caller to prefix with
// where the value came from ("--strategy 'x' " + message): why a known-but-refused
// strategy cannot run under fabric-run (ddp_spawn, ddp_fork, ddp_notebook, dp,
// deepspeed) with the one to use, or the list of known ones.
absl::StatusOr<std::string> CanonicalStrategy(absl::string_view value);

// The canonical precision for `value`: Lightning's legacy 64/32/16/bf16 become
// 64-true/32-true/16-mixed/bf16-mixed. InvalidArgument as above otherwise.
absl::StatusOr<std::string> CanonicalPrecision(absl::string_view value);

}  // namespace fabric

#endif  // FABRIC_COMMON_LIGHTNING_CHOICES_H_
