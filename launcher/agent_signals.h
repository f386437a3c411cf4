// The signals fabric-run's agent handles on its loop, and the ones it was started with
// ignored. No state.
#ifndef FABRIC_LAUNCHER_AGENT_SIGNALS_H_
#define FABRIC_LAUNCHER_AGENT_SIGNALS_H_

#include <signal.h>

namespace fabric::launcher {

// The signals the agent handles on its loop.
sigset_t AgentSignals();
// Blocks AgentSignals() in the calling thread; stores the previous mask in `old`.
void BlockAgentSignals(sigset_t* old);
// The forwardable signals (INT, TERM, HUP, USR1, USR2) whose disposition is
// SIG_IGN in this process now (e.g. SIGHUP under nohup, SIGINT for `cmd &` in a
// script). Call before anything changes dispositions.
sigset_t IgnoredSignals();

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_AGENT_SIGNALS_H_
