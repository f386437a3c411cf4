// fabric-rendezvous: the standalone rendezvous server. Prints the bound port on stdout
// (first line), serves until SIGTERM or SIGINT, then shuts down cleanly (exit 0).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/hide_args.h"
#include "common/logging.h"
#include "rendezvous/server.h"
#include "rendezvous/server_flags.h"
#include "rendezvous/sync_debug.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace fabric::rendezvous;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  fabric::HideArgValues(argv, argc - 1, {"--token"});  // out of ps
  // gRPC's own log lines (e.g. a failed bind, which we report in one line) are noise.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  absl::StatusOr<ServerOptions> options = ParseServerFlags(args, env);
  if (options.status().code() == absl::StatusCode::kNotFound) {
    std::fputs(kServerUsage, stdout);
    return 0;
  }
  if (!options.ok()) {
    std::fprintf(stderr, "fabric-rendezvous: %s\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  fabric::SetLogPrefix("fabric-rendezvous");
  DisableMutexDeadlockDetection();
  // Block the stop signals before gRPC starts its threads; this thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto server = RendezvousServer::Create(*options);
  if (!server.ok()) {
    std::fprintf(stderr, "fabric-rendezvous: %s\n", std::string(server.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<int> port = (*server)->Start();
  if (!port.ok()) {
    std::fprintf(stderr, "fabric-rendezvous: %s\n", std::string(port.status().message()).c_str());
    return 1;
  }
  std::printf("%d\n", *port);
  std::fflush(stdout);
  fabric::LogInfo("serving on ", (*server)->address(),
                  options->munge           ? " (munge credentials required)"
                  : options->token.empty() ? ""
                                           : " (token required)");
  int sig = 0;
  sigwait(&stop, &sig);
  fabric::LogInfo("received ", strsignal(sig), "; shutting down");
  (*server)->Shutdown();
  return 0;
}
