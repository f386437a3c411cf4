// Reading small files (configuration, /proc entries, secrets) in one place.
//
// Thread safety: reentrant.
#ifndef FABRIC_COMMON_FILE_UTIL_H_
#define FABRIC_COMMON_FILE_UTIL_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric {

// The whole file, or nullopt when it cannot be opened.
std::optional<std::string> ReadFile(const std::string& path);

// A shared secret kept in a file (a token): its contents without surrounding whitespace.
// INVALID_ARGUMENT "FLAG: cannot read a token from 'PATH'" when the file cannot be read
// or holds only whitespace; the message never quotes the contents.
// Creates `path` and its missing parents (mode 0755); an existing directory is OK.
// Internal "create <what> <the part that failed>: <errno text>".
absl::Status MakeDirs(const std::string& path, absl::string_view what);

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, absl::string_view flag);

}  // namespace fabric

#endif  // FABRIC_COMMON_FILE_UTIL_H_
