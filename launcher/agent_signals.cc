#include "launcher/agent_signals.h"

#include <pthread.h>

#include <initializer_list>

namespace fabric::launcher {

sigset_t AgentSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&set, sig);
  }
  return set;
}

void BlockAgentSignals(sigset_t* old) {
  sigset_t set = AgentSignals();
  pthread_sigmask(SIG_BLOCK, &set, old);
}

sigset_t IgnoredSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) sigaddset(&set, sig);
  }
  return set;
}

}  // namespace fabric::launcher
