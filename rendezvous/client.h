// RendezvousClient: what an agent uses to take part in a run's rendezvous.
//
//   ClientOptions o;  o.server_address = "10.0.0.1:29400"; o.run_id = ...; o.node_id = ...;
//   FABRIC_ASSIGN_OR_RETURN(auto client, RendezvousClient::Connect(o));  // session open
//   FABRIC_ASSIGN_OR_RETURN(Assignment a, client->Join());               // round complete
//   ... spawn workers with a ...
//   Event e = client->NextEvent(deadline) / or the callback:
//     kRoundChanged -> stop workers, Join() again
//     kRunFailed    -> stop workers, print e.reason / e.root_cause, exit non-zero
//     kRunSucceeded -> exit 0
//     kStandby      -> this node is a spare; keep calling Join()
//     kConnectionLost -> the server is gone: stop workers, exit non-zero
//   worker failure: client->ReportWorkerFailure(a.round, failure)  (then kRoundChanged
//     or kRunFailed arrives for every node, this one included)
//   all local workers succeeded: client->ReportSuccess(a.round)
//
// The session stream (opened by Connect, kept by a reader and a keep-alive thread) is
// the node's liveness: closing it or the process dying marks the node lost at once.
//
// Thread safety: all methods may be called from any thread. The event callback runs on
// the client's reader thread and must not block for long.
#ifndef FABRIC_RENDEZVOUS_CLIENT_H_
#define FABRIC_RENDEZVOUS_CLIENT_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "proto/rendezvous.grpc.pb.h"
#include "rendezvous/fault_injector.h"
#include "rendezvous/rpc_util.h"
#include "rendezvous/tls.h"
#include "rendezvous/types.h"

namespace fabric {
namespace rendezvous {

struct ClientOptions {
  std::string server_address;  // "host:port" of the rendezvous server
  std::string run_id;
  std::string node_id;  // unique per node (e.g. hostname + agent pid)
  int local_world_size = 1;
  std::string advertised_address;  // where this node is reachable (MASTER_ADDR if rank 0)
  int requested_node_rank = -1;    // -1: let the server choose (stable order)
  int master_port = 0;             // a verified-free port, used if this node gets rank 0
  int min_nodes = 1;
  int max_nodes = 1;
  int max_restarts = 0;
  std::string token;  // when the server has auth on
  TlsConfig tls;      // disabled: plaintext
  // Connect retries until this long has passed; Join waits this long for its round.
  absl::Duration join_timeout = absl::Seconds(600);
  // Deadline of the short calls (report, leave, status), retries included.
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Zero: use the interval the server asks for when the session opens.
  absl::Duration keepalive_interval = absl::ZeroDuration();
  FaultInjector* faults = nullptr;  // tests: loses unary calls; not owned
};

class RendezvousClient {
 public:
  // Opens the session stream, retrying with backoff while the server is unreachable,
  // until options.join_timeout. Errors: UNAVAILABLE / DEADLINE_EXCEEDED naming the
  // address after the timeout; UNAUTHENTICATED, FAILED_PRECONDITION (run id / version
  // mismatch) as the server says, at once.
  static absl::StatusOr<std::unique_ptr<RendezvousClient>> Connect(const ClientOptions& options);
  ~RendezvousClient();  // Close()
  RendezvousClient(const RendezvousClient&) = delete;
  RendezvousClient& operator=(const RendezvousClient&) = delete;

  // Joins the round being formed and waits for it to complete (up to join_timeout).
  // Errors: DEADLINE_EXCEEDED naming how many of how many nodes joined;
  // FAILED_PRECONDITION / ALREADY_EXISTS / INVALID_ARGUMENT for refused joins (config or
  // rank mismatch, run failed); UNAVAILABLE when the server stays unreachable.
  absl::StatusOr<Assignment> Join();
  // The same, offering `master_port` (a port verified free just now) instead of
  // options.master_port: agents offer a fresh one each round.
  absl::StatusOr<Assignment> Join(int master_port);

  // Events in arrival order. With a callback set, events go to it instead of the queue.
  void SetEventCallback(std::function<void(const Event&)> callback);
  // The next queued event; DEADLINE_EXCEEDED when none arrives by `deadline`.
  absl::StatusOr<Event> NextEvent(absl::Time deadline);

  // Reports the root cause of a worker failure in `round`. Idempotent across retries.
  // ABORTED when `round` is stale (someone else's failure already restarted the round).
  absl::StatusOr<FailureReportResult> ReportWorkerFailure(int64_t round,
                                                          const WorkerFailure& failure);
  // Every local worker succeeded in `round`; returns true when this closed the run.
  absl::StatusOr<bool> ReportSuccess(int64_t round);
  // Leaves the run on purpose (the others restart without this node, or fail below min).
  absl::Status Leave(const std::string& reason);
  // `with_node_status`: also every node's last published status (RunStatus::node_status).
  absl::StatusOr<RunStatus> GetStatus(bool with_node_status = false);
  // This node's status for the others (`fabric-run status` on any node): sent with the
  // next keep-alive, and not again until it changes.
  void SetNodeStatus(std::string status);

  // The round of the last assignment or round change seen.
  int64_t round();
  const ClientOptions& options() const { return options_; }

  // Closes the session: the server sees the stream end (a node that has not reported
  // success or left is then lost). Idempotent.
  void Close();

 private:
  explicit RendezvousClient(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel);
  absl::Status OpenSession(absl::Time deadline);
  void ReaderLoop();
  void KeepAliveLoop();
  void Dispatch(const Event& event);
  void FillHeader(fabric::v1::Header* header, int64_t round);
  RetryPolicy ShortPolicy() const;

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<fabric::v1::Rendezvous::Stub> stub_;

  std::unique_ptr<grpc::ClientContext> session_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<fabric::v1::SessionRequest, fabric::v1::Event>> session_;
  absl::Duration keepalive_interval_;
  std::thread reader_;
  std::thread keepalive_;
  absl::Mutex write_mu_;                                  // one writer on the stream at a time
  bool session_done_ ABSL_GUARDED_BY(write_mu_) = false;  // Finish() was called

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t round_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  std::function<void(const Event&)> callback_ ABSL_GUARDED_BY(mu_);
  std::string node_status_ ABSL_GUARDED_BY(mu_);  // the last one given
  bool node_status_sent_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_CLIENT_H_
