// The multi-node entry point of fabric-run's main().
//
// Single-node start-up must not pay for gRPC, so there are two binaries built from
// the same main.cc: `fabric-run` (no gRPC; MultiNodeMain execs the sibling) and
// `fabric-run-multinode` (links the rendezvous; MultiNodeMain runs the agent with a
// RdzvCoordinator). See doc/multinode.md.
#ifndef FABRIC_LAUNCHER_MULTINODE_H_
#define FABRIC_LAUNCHER_MULTINODE_H_

#include "launcher/agent.h"
#include "launcher/options.h"

namespace fabric::launcher {

// True when `options` need the rendezvous: more than one node allowed, or a
// standalone rendezvous endpoint given.
inline bool IsMultiNode(const LaunchOptions& options) {
  return options.max_nodes > 1 || !options.rdzv_endpoint.empty();
}

// Runs the multi-node job described by `options` (fabric-run's argv is `argv`) and
// returns (or exits with) fabric-run's exit status. REQUIRES: main() blocked the
// agent's signals (options.worker_sigmask holds the original mask).
int MultiNodeMain(char** argv, AgentOptions options);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_MULTINODE_H_
