// RunCommand: run a short-lived tool (munge, unmunge, scontrol) to completion with
// its input on stdin, collecting stdout and stderr. argv only, never a shell. Safe to
// call from a multi-threaded process (posix_spawn; the pipes are close-on-exec in the
// parent).
//
// Thread safety: reentrant.
#ifndef FABRIC_COMMON_SUBPROCESS_H_
#define FABRIC_COMMON_SUBPROCESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fabric {

struct CommandResult {
  int exit_code = 0;  // 128 + signal when killed by one
  std::string out;
  std::string err;
};

// NOT_FOUND when argv[0] cannot be executed (naming it); DEADLINE_EXCEEDED when it is
// still running after `timeout` (it is killed and reaped first). A non-zero exit is
// not an error here: read exit_code.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::string_view input, absl::Duration timeout);

}  // namespace fabric

#endif  // FABRIC_COMMON_SUBPROCESS_H_
