// Flag values as the command line or the environment gave them, and their parsers:
// shared by cli.cc and torchrun_flags.cc. Every parser's error is one line naming the
// flag (or variable) and what was wrong.
#ifndef FABRIC_LAUNCHER_CLI_VALUES_H_
#define FABRIC_LAUNCHER_CLI_VALUES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fabric::launcher {

// One flag's value as given, and where it came from (for messages).
struct Raw {
  std::string value;
  std::string source;  // "--devices", "--nproc_per_node", "FABRIC_DEVICES" or "PET_..."
  bool from_cli = false;
};
using RawMap = std::map<std::string, Raw>;  // by canonical flag name

// InvalidArgument "<source>: '<value>' <what>".
absl::Status Bad(const Raw& r, absl::string_view what);
absl::StatusOr<int> ParseInt(const Raw& r, int min, int max, absl::string_view fix);
absl::StatusOr<bool> ParseBool(const Raw& r);
// Seconds ("30", "2.5") or an absl duration with unit ("500ms", "30s", "2m").
absl::StatusOr<absl::Duration> ParseDurationValue(const Raw& r, bool allow_zero);
absl::StatusOr<int> ParsePort(const Raw& r, absl::string_view port);
// HOST:PORT or [IPV6]:PORT; returns it normalized. A HOST without a port gets
// `default_port` (torchrun's c10d default is 29400; 0: a port is required). Port 0 is
// returned as is ("any port", torchrun's localhost:0): the caller decides whether it
// can mean anything.
absl::StatusOr<std::string> ParseEndpoint(const Raw& r, int default_port = 0);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_CLI_VALUES_H_
