// RendezvousService: the thin gRPC adapter (callback API, no thread held per call)
// over RendezvousState. It converts proto <-> structs and absl::Status <-> grpc::Status,
// authenticates calls, replays retried mutating calls, and delivers the state's
// effects: completes long-polling Join calls and pushes events on session streams.
//
// Thread safety: all methods may be called concurrently (gRPC callback threads and the
// server's ticker). Lock order: mu_ (state), then sessions_mu_ (a session stream is
// registered under both, so that no push of the state misses it); mu_ is never taken
// while sessions_mu_ is held.
#ifndef FABRIC_RENDEZVOUS_RENDEZVOUS_SERVICE_H_
#define FABRIC_RENDEZVOUS_RENDEZVOUS_SERVICE_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "proto/rendezvous.grpc.pb.h"
#include "rendezvous/server_util.h"
#include "rendezvous/state.h"

namespace fabric {
namespace rendezvous {

// The largest node status the server keeps (a node's JSON: ~300 bytes a rank).
inline constexpr size_t kMaxNodeStatusBytes = 256 << 10;

struct ServiceOptions {
  StateOptions state;
  AuthOptions auth;  // who may call (off by default)
  // How often agents should send keep-alives (told to them when their session opens).
  absl::Duration keepalive_interval = absl::Seconds(1);
};

class RendezvousService final : public fabric::v1::Rendezvous::CallbackService {
 public:
  // `clock` must outlive the service.
  RendezvousService(const ServiceOptions& options, Clock* clock);
  ~RendezvousService() override;
  RendezvousService(const RendezvousService&) = delete;
  RendezvousService& operator=(const RendezvousService&) = delete;

  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* ctx,
                                 const fabric::v1::JoinRequest* request,
                                 fabric::v1::JoinResponse* response) override;
  grpc::ServerBidiReactor<fabric::v1::SessionRequest, fabric::v1::Event>* Session(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* ReportFailure(grpc::CallbackServerContext* ctx,
                                          const fabric::v1::ReportFailureRequest* request,
                                          fabric::v1::ReportFailureResponse* response) override;
  grpc::ServerUnaryReactor* ReportSuccess(grpc::CallbackServerContext* ctx,
                                          const fabric::v1::ReportSuccessRequest* request,
                                          fabric::v1::ReportSuccessResponse* response) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* ctx,
                                  const fabric::v1::LeaveRequest* request,
                                  fabric::v1::LeaveResponse* response) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const fabric::v1::StatusRequest* request,
                                   fabric::v1::StatusResponse* response) override;

  // Runs the state's deadlines (last call, join timeout, keep-alives) at Clock time.
  void Tick();
  // Ends every pending Join and session with UNAVAILABLE so that the server can stop.
  void Shutdown();
  RunStatus GetRunStatus();
  std::vector<std::string> ConnectedNodes();

 private:
  class JoinReactor;
  class SessionReactor;
  using JoinCompletion = std::pair<JoinReactor*, absl::StatusOr<Assignment>>;

  // Moves the kCompleteJoin effects out of `effects`, pairing them with their pending
  // reactors (removed from pending_joins_).
  void TakeJoinsLocked(std::vector<Effect>* effects, std::vector<JoinCompletion>* joins)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes `joins` and pushes the remaining (event) effects. Call without mu_.
  void Deliver(std::vector<JoinCompletion> joins, const std::vector<Effect>& effects);
  void PushTo(const std::string& node_id, const fabric::v1::Event& event);

  // The steps every mutating unary call shares: authenticate, check the protocol
  // version, answer a retry from the replay cache (replayable calls), run `mutate` under
  // the state lock once the run id is fenced, remember the outcome, finish the call and
  // deliver the effects (completed joins, pushed events). `mutate` fills `response` and
  // returns the call's status.
  using MutateFn = std::function<absl::Status(std::vector<Effect>* effects)>;
  grpc::ServerUnaryReactor* MutatingCall(grpc::CallbackServerContext* ctx,
                                         const fabric::v1::Header& header,
                                         google::protobuf::MessageLite* response, bool replayable,
                                         const MutateFn& mutate);

  void OnJoinCancelled(JoinReactor* reactor);
  absl::Status OnSessionHello(SessionReactor* session, const fabric::v1::Header& header);
  void OnKeepAlive(const std::string& node_id, int64_t session_id);
  void OnSessionClosed(const std::string& node_id, int64_t session_id);
  // A keep-alive's node_status: kept per node until its session closes.
  void SetNodeStatus(const std::string& node_id, const std::string& status);
  void UnregisterSession(SessionReactor* session);
  std::string RunId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServiceOptions options_;
  Clock* const clock_;
  ReplayCache replay_;
  CallAuthenticator auth_;

  absl::Mutex mu_;
  RendezvousState state_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, JoinReactor*> pending_joins_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex sessions_mu_;
  std::map<std::string, SessionReactor*> sessions_ ABSL_GUARDED_BY(sessions_mu_);

  // Each node's last status (SessionRequest.node_status), for `fabric-run status`.
  absl::Mutex status_mu_;
  std::map<std::string, std::string> node_status_ ABSL_GUARDED_BY(status_mu_);
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_RENDEZVOUS_SERVICE_H_
