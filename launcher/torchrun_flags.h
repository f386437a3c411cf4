// torchrun 2.11's own flags, accepted beside fabric-run's (which already answer to
// torchrun's spellings of the flags both have: --nproc-per-node, --nnodes, --node-rank,
// --master-addr, --master-port, --rdzv-id, --rdzv-endpoint, --max-restarts, --standalone,
// --log-dir), so that `torchrun ...` can become `fabric-run ...` unchanged. Each is
// honoured with torchrun's meaning or refused with one line that says why; doc/cli.md
// lists every one and any difference.
#ifndef FABRIC_LAUNCHER_TORCHRUN_FLAGS_H_
#define FABRIC_LAUNCHER_TORCHRUN_FLAGS_H_

#include "absl/status/status.h"
#include "launcher/cli_values.h"
#include "launcher/options.h"

namespace fabric::launcher {

// Resolves the torchrun-only flags present in `raw` into `o` (roles, -m/--no-python,
// console filters from --local-ranks-filter/--redirects/--tee, --rdzv-conf's timeouts
// unless fabric-run's own flags set them, ...). REQUIRES: the shared flags are resolved
// into `o` already. Returns InvalidArgument naming the flag for a refused flag or value.
absl::Status ResolveTorchrunFlags(const RawMap& raw, LaunchOptions* o);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_TORCHRUN_FLAGS_H_
