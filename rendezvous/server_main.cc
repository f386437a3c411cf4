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

#include <atomic>
#include <memory>
#include <thread>

#include "common/hide_args.h"
#include "common/http_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/net.h"
#include "rendezvous/server.h"
#include "rendezvous/server_flags.h"
#include "rendezvous/server_metrics.h"
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
  // --metrics-port: /metrics served on a thread of its own (the gauges are read from the
  // service, which is thread-safe).
  fabric::MetricRegistry metrics;
  DeclareServerMetrics(metrics);
  std::unique_ptr<fabric::HttpServer> http;
  if (options->metrics_port.has_value()) {
    fabric::HttpServerOptions ho;
    ho.tcp_port = options->metrics_port;
    RendezvousServer* rs = server->get();
    auto created = fabric::HttpServer::Create(ho, [&metrics, rs](const fabric::HttpRequest& r) {
      fabric::HttpResponse out;
      if (r.path != "/metrics") {
        out.code = 404;
        out.body = "try /metrics\n";
        return out;
      }
      SetServerGauges(rs->Status(), rs->ConnectedNodes().size(), metrics);
      out.content_type = "text/plain; version=0.0.4; charset=utf-8";
      out.body = metrics.Render();
      return out;
    });
    if (!created.ok()) {
      std::fprintf(stderr, "fabric-rendezvous: --metrics-port: %s\n",
                   std::string(created.status().message()).c_str());
      (*server)->Shutdown();
      return 2;
    }
    http = *std::move(created);
    std::fprintf(stderr, "fabric-rendezvous: metrics at http://%s:%d/metrics\n",
                 fabric::LocalHostname().c_str(), http->tcp_port());
  }
  std::atomic<bool> done{false};
  std::thread metrics_thread([&] {
    while (http != nullptr && !done.load()) http->ServeFor(absl::Milliseconds(200));
  });
  int sig = 0;
  sigwait(&stop, &sig);
  fabric::LogInfo("received ", strsignal(sig), "; shutting down");
  done = true;
  metrics_thread.join();
  (*server)->Shutdown();
  return 0;
}
