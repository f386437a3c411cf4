// RendezvousServer: the rendezvous service on a gRPC server, plus the ticker that runs
// deadlines. Embeddable (the node-rank-0 agent runs one in-process)
// and used by the standalone fabric-rendezvous binary.
//
//   FABRIC_ASSIGN_OR_RETURN(auto server, RendezvousServer::Create(options));
//   FABRIC_ASSIGN_OR_RETURN(int port, server->Start());
//   ...
//   server->Shutdown();
//
// Thread safety: Start/Shutdown from one thread; Status() from any.
#ifndef FABRIC_RENDEZVOUS_SERVER_H_
#define FABRIC_RENDEZVOUS_SERVER_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "grpcpp/server.h"
#include "rendezvous/rendezvous_service.h"
#include "rendezvous/tls.h"
#include "rendezvous/types.h"

namespace fabric {
namespace rendezvous {

// The largest request the server accepts (RESOURCE_EXHAUSTED above it): the rendezvous
// carries small records; 1 MiB bounds what one caller can make the server buffer.
inline constexpr int kMaxRequestBytes = 1 << 20;

struct ServerOptions {
  // The address to bind; only this one (not every interface). "0.0.0.0" binds all.
  std::string host = "127.0.0.1";
  int port = 0;       // 0: the kernel picks; Start() returns it
  std::string token;  // empty (and munge false): auth off
  // MUNGE credentials instead of a token (a SLURM job with no token): a caller must
  // present one made by this server's uid for run_id (server_util.h AuthOptions).
  bool munge = false;
  std::string munge_socket;  // empty: munge's default socket
  TlsConfig tls;             // disabled: plaintext (tls.h)
  std::string run_id;        // empty: adopt the first caller's
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // Interval told to agents; zero means keepalive_timeout / 5.
  absl::Duration keepalive_interval = absl::ZeroDuration();
  absl::Duration last_call_timeout = absl::Seconds(1);
  absl::Duration join_timeout = absl::Seconds(600);
  absl::Duration tick_interval = absl::Milliseconds(10);
  Clock* clock = nullptr;  // null: Clock::RealClock()
  // fabric-rendezvous --metrics-port: Prometheus /metrics on this port (0: any free one),
  // served by server_main.cc; unset: none. The server library itself ignores it.
  std::optional<int> metrics_port;
};

class RendezvousServer {
 public:
  // Validates `options` (INVALID_ARGUMENT naming the bad field). No I/O.
  static absl::StatusOr<std::unique_ptr<RendezvousServer>> Create(const ServerOptions& options);
  ~RendezvousServer();
  RendezvousServer(const RendezvousServer&) = delete;
  RendezvousServer& operator=(const RendezvousServer&) = delete;

  // Binds host:port and starts serving; returns the bound port. UNAVAILABLE naming the
  // address when it cannot bind (in use, not a local address).
  absl::StatusOr<int> Start();
  // Ends pending calls and stops. Idempotent.
  void Shutdown();

  int port() const { return port_; }
  // "host:port" as clients should dial it.
  std::string address() const;
  RunStatus Status() { return service_->GetRunStatus(); }
  // The nodes with an open session now (see RendezvousState::ConnectedNodes).
  std::vector<std::string> ConnectedNodes() { return service_->ConnectedNodes(); }

 private:
  explicit RendezvousServer(const ServerOptions& options);
  void TickLoop();

  const ServerOptions options_;
  Clock* const clock_;
  std::unique_ptr<RendezvousService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread ticker_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

// "host:port", bracketing IPv6 literals.
std::string JoinHostPort(const std::string& host, int port);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_SERVER_H_
