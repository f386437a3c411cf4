// MultiNodeMain for the benchmark variant fabric-run-nogrpc: no rendezvous linked, so
// that the start-up cost of fabric-run's linked-in gRPC can be measured against it.
#include <unistd.h>

#include "launcher/multinode.h"

namespace fabric::launcher {

int MultiNodeMain(char** /*argv*/, AgentOptions /*options*/) {
  static const char kMsg[] =
      "fabric-run-nogrpc: a benchmark build without the rendezvous; use fabric-run\n";
  (void)!write(2, kMsg, sizeof(kMsg) - 1);
  return 1;
}

}  // namespace fabric::launcher
