// One-line error messages whatever the input: control characters in echoed flags,
// values, paths and environment variables become \xNN (other bytes, e.g. UTF-8 names,
// stay), so a refusal is always the one line the user reads.
//
// Thread safety: pure functions.
#ifndef FABRIC_COMMON_ONE_LINE_H_
#define FABRIC_COMMON_ONE_LINE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fabric {

std::string OneLineText(absl::string_view text);
absl::Status OneLine(const absl::Status& status);

}  // namespace fabric

#endif  // FABRIC_COMMON_ONE_LINE_H_
