// A spare (fabric-run --recovery in-place --spares N): a process started with the workers
// that has no rank yet. Fabric::Create blocks in WaitForAssignment until fabric-run writes
// to the FIFO in FABRIC_SPARE_FIFO the complete environment of the worker it takes over
// (common/worker_control.h's spare assignment); that becomes this process's environment,
// and the process goes on as that worker's replacement. What a spare has
// paid in advance: process start, loading LibTorch, the program's own start-up.
#ifndef FABRIC_RUNTIME_SPARE_H_
#define FABRIC_RUNTIME_SPARE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric::runtime {

// Reads the FIFO until a complete message, then replaces the environment with it.
// Unavailable when the FIFO ends (fabric-run is gone) before that.
absl::Status WaitForAssignment(const std::string& fifo);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_SPARE_H_
