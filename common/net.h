// Small socket helpers shared by the launcher and SLURM integration.
//
// Thread safety: all functions are thread-safe (no shared state).
#ifndef FABRIC_COMMON_NET_H_
#define FABRIC_COMMON_NET_H_

#include <string>

#include "absl/status/statusor.h"

namespace fabric {

// Returns a TCP port that the kernel reports free on every IPv4 interface (bind to
// 0.0.0.0:0) and that is also free on the IPv6 wildcard where the host has IPv6,
// so that a store binding either family will not hit EADDRINUSE. The port is released
// before returning. Returns Unavailable on socket errors.
absl::StatusOr<int> PickFreePort();

// OK when `port` can be bound right now on the IPv4 wildcard address (and on IPv6's
// where available); FailedPrecondition naming the port when it is in use;
// InvalidArgument when it is not in 1..65535.
absl::Status CheckPortFree(int port);

// The host's name as gethostname(2) reports it.
std::string LocalHostname();

}  // namespace fabric

#endif  // FABRIC_COMMON_NET_H_
