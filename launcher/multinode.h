// The multi-node entry point of fabric-run's main().
//
// fabric-run links it from multinode_agent.cc (the agent with a RdzvCoordinator, gRPC);
// a single-node job never calls it, so gRPC is never initialized there. The benchmark
// variant //bench/harness:fabric-run-nogrpc links a stub instead, to measure what the
// linked-in rendezvous costs at start-up (doc/bench.md). See doc/multinode.md.
#ifndef FABRIC_LAUNCHER_MULTINODE_H_
#define FABRIC_LAUNCHER_MULTINODE_H_

#include "launcher/agent.h"
#include "launcher/options.h"

namespace fabric::launcher {

// Runs the multi-node job described by `options` (fabric-run's argv is `argv`) and
// returns (or exits with) fabric-run's exit status. REQUIRES: main() blocked the
// agent's signals (options.worker_sigmask holds the original mask).
int MultiNodeMain(char** argv, AgentOptions options);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_MULTINODE_H_
