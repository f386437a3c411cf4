#include "rendezvous/server.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace fabric {
namespace rendezvous {

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::unique_ptr<RendezvousServer>> RendezvousServer::Create(
    const ServerOptions& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("rendezvous server: empty host");
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("rendezvous server: port ", options.port, " is not in 0..65535"));
  }
  if (options.keepalive_timeout <= absl::ZeroDuration() ||
      options.join_timeout <= absl::ZeroDuration() ||
      options.last_call_timeout < absl::ZeroDuration() ||
      options.tick_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "rendezvous server: keepalive, join and tick durations must be > 0 and the last-call "
        "window >= 0");
  }
  if (options.tls.enabled() && (options.tls.cert_pem.empty() || options.tls.key_pem.empty())) {
    return absl::InvalidArgumentError(
        "rendezvous server: TLS needs the server's certificate and key");
  }
  return std::unique_ptr<RendezvousServer>(new RendezvousServer(options));
}

RendezvousServer::RendezvousServer(const ServerOptions& options)
    : options_(options), clock_(options.clock ? options.clock : Clock::RealClock()) {
  ServiceOptions so;
  so.auth.token = options.token;
  so.auth.munge = options.munge;
  so.auth.munge_socket = options.munge_socket;
  so.auth.uid = getuid();
  so.auth.run_id = options.run_id;
  so.state.run_id = options.run_id;
  so.state.keepalive_timeout = options.keepalive_timeout;
  so.state.last_call_timeout = options.last_call_timeout;
  so.state.join_timeout = options.join_timeout;
  so.keepalive_interval = options.keepalive_interval > absl::ZeroDuration()
                              ? options.keepalive_interval
                              : options.keepalive_timeout / 5;
  service_ = std::make_unique<RendezvousService>(so, clock_);
}

RendezvousServer::~RendezvousServer() { Shutdown(); }

std::string RendezvousServer::address() const { return JoinHostPort(options_.host, port_); }

absl::StatusOr<int> RendezvousServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("rendezvous server already started");
  const std::string addr = JoinHostPort(options_.host, options_.port);
  grpc::ServerBuilder builder;
  int selected = 0;
  builder.AddListeningPort(addr, ServerCredentialsFor(options_.tls), &selected);
  builder.RegisterService(service_.get());
  // Port reuse would let two servers share a port: refuse instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || selected == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "rendezvous server could not listen on ", addr,
        ": the port is in use or the host is not a local address; pick another --port or "
        "--host"));
  }
  port_ = selected;
  ticker_ = std::thread([this] { TickLoop(); });
  return port_;
}

void RendezvousServer::TickLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.tick_interval);
    if (stop_) break;
    mu_.Unlock();
    service_->Tick();
    mu_.Lock();
  }
}

void RendezvousServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (ticker_.joinable()) ticker_.join();
  if (server_ == nullptr) return;
  service_->Shutdown();
  // The deadline bounds how long in-flight calls may take to finish.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server_->Wait();
}

}  // namespace rendezvous
}  // namespace fabric
