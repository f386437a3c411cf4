// MultiNodeMain for fabric-run: the agent with a RdzvCoordinator.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/net.h"
#include "launcher/etcd_coordinator.h"
#include "launcher/multinode.h"
#include "launcher/rdzv_auth.h"
#include "launcher/rdzv_coordinator.h"
#include "rendezvous/sync_debug.h"
#include "rendezvous/tls.h"

namespace fabric::launcher {
namespace {

void Write(const std::string& text) { (void)!write(2, text.data(), text.size()); }

// Runs the agent with `coordinator` (started after the agent exists: its orphan
// sentinel forks before any gRPC thread) and exits with its status.
template <typename C>
int RunWith(std::unique_ptr<C> coordinator, AgentOptions options) {
  options.coordinator = coordinator.get();
  absl::StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(std::move(options));
  if (!agent.ok()) {
    Write(absl::StrCat("fabric-run: ", agent.status().message(), "\n"));
    return agent.status().code() == absl::StatusCode::kFailedPrecondition ? 2 : 1;
  }
  if (absl::Status s = coordinator->Start(); !s.ok()) {
    Write(absl::StrCat("fabric-run: ", s.message(), "\n"));
    return 1;
  }
  const int code = (*agent)->Run();
  agent->reset();  // removes its scratch files
  coordinator->Shutdown();
  // gRPC threads may still be winding down: do not run static destructors under them.
  std::_Exit(code);
}

// --rdzv-backend etcd: the agent with an EtcdCoordinator.
int EtcdMain(AgentOptions options) {
  EtcdCoordinatorOptions co;
  co.launch = options.launch;
  co.run_id = options.launch.run_id;
  co.node_id = absl::StrCat(LocalHostname(), ":", getpid());
  absl::StatusOr<rendezvous::TlsConfig> tls = rendezvous::LoadTls(
      {options.launch.rdzv_tls_ca, options.launch.rdzv_tls_cert, options.launch.rdzv_tls_key,
       /*client_auth=*/false});
  if (!tls.ok()) {
    Write(absl::StrCat("fabric-run: etcd TLS (--rdzv-conf cacert/cert/key or --rdzv-tls-*): ",
                       tls.status().message(), "\n"));
    return 2;
  }
  co.tls = *tls;
  absl::StatusOr<std::unique_ptr<EtcdCoordinator>> coordinator = EtcdCoordinator::Create(co);
  if (!coordinator.ok()) {
    Write(absl::StrCat("fabric-run: ", coordinator.status().message(), "\n"));
    return 2;
  }
  return RunWith(*std::move(coordinator), std::move(options));
}

}  // namespace

int MultiNodeMain(char** /*argv*/, AgentOptions options) {
  // Before any thread: Debian's absl runs its deadlock detector (one global lock) on
  // every mutex, gRPC's included (see rendezvous/sync_debug.h).
  rendezvous::DisableMutexDeadlockDetection();
  // gRPC's own log lines (e.g. the bind attempt of an agent that turns out to be a
  // client) are noise next to our messages; every error reaches us as a Status.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  if (options.launch.rdzv_etcd) return EtcdMain(std::move(options));
  RdzvCoordinatorOptions co;
  co.launch = options.launch;
  co.run_id = options.launch.run_id;
  absl::StatusOr<RdzvAuth> auth = ResolveRdzvAuth(options.launch, options.inherited_env);
  if (!auth.ok()) {
    Write(absl::StrCat("fabric-run: ", auth.status().message(), "\n"));
    return 2;
  }
  if (!auth->warning.empty()) Write(absl::StrCat("fabric-run: warning: ", auth->warning, "\n"));
  absl::StatusOr<rendezvous::TlsConfig> tls =
      rendezvous::LoadTls({options.launch.rdzv_tls_ca, options.launch.rdzv_tls_cert,
                           options.launch.rdzv_tls_key, options.launch.rdzv_tls_client_auth});
  if (!tls.ok()) {
    Write(absl::StrCat("fabric-run: --rdzv-tls-*: ", tls.status().message(), "\n"));
    return 2;
  }
  if (tls->require_client_cert && tls->cert_pem.empty()) {
    Write(
        "fabric-run: --rdzv-tls-client-auth: every agent presents a certificate: give "
        "this one --rdzv-tls-cert and --rdzv-tls-key\n");
    return 2;
  }
  co.tls = *tls;
  co.token = auth->presented;
  co.munge = auth->mode == RdzvAuthMode::kMunge;
  co.auth_name = RdzvAuthModeName(auth->mode);
  co.munge_socket = auth->munge_socket;
  co.node_id = absl::StrCat(LocalHostname(), ":", getpid());
  absl::StatusOr<std::unique_ptr<RdzvCoordinator>> coordinator = RdzvCoordinator::Create(co);
  if (!coordinator.ok()) {
    Write(absl::StrCat("fabric-run: ", coordinator.status().message(), "\n"));
    return 1;
  }
  return RunWith(*std::move(coordinator), std::move(options));
}

}  // namespace fabric::launcher
