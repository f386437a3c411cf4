// RdzvCoordinator: the Coordinator of a multi-node agent, on the gRPC rendezvous.
//
// Who hosts the rendezvous (Start()):
//   --rdzv-endpoint HOST:PORT given: nobody here; a standalone fabric-rendezvous.
//   --node-rank 0: this agent, on --main-address:--main-port (bind failure = error).
//   --node-rank R > 0: the node-rank-0 agent.
//   no --node-rank: the agent that can bind --main-address:--main-port hosts it;
//     the others (port taken, or not a local address) are its clients.
// The embedded server binds exactly --main-address (not every interface).
//
// A watchdog thread polls the server's status, so a rendezvous host that hangs or
// vanishes without closing the connection is noticed within --keepalive-timeout.
// Every request runs on one internal worker thread, in order; the session's pushed
// events come from the client's reader thread. Both end up as CoordinatorEvents in
// one queue, signalled through an eventfd.
//
// Thread safety: all public methods are safe from any thread.
#ifndef FABRIC_LAUNCHER_RDZV_COORDINATOR_H_
#define FABRIC_LAUNCHER_RDZV_COORDINATOR_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "launcher/coordinator.h"
#include "launcher/options.h"
#include "rendezvous/client.h"
#include "rendezvous/server.h"
#include "rendezvous/tls.h"
#include "rendezvous/types.h"

namespace fabric::launcher {

struct RdzvCoordinatorOptions {
  LaunchOptions launch;  // nodes, node rank, addresses, timeouts, restarts, devices
  std::string run_id;
  // What this agent presents: a token, or (munge) its MUNGE credential. Empty: none.
  std::string token;
  // The embedded server requires MUNGE credentials instead of `token` (rdzv_auth.h).
  bool munge = false;
  std::string munge_socket;
  // The authentication decided for the run (rdzv_auth.h RdzvAuthModeName), for messages.
  std::string auth_name = "none";
  // TLS of the embedded server (needs cert and key) and of this agent's client.
  rendezvous::TlsConfig tls;
  std::string node_id;  // unique per agent: hostname:pid
  // The rendezvous host, after the run's end, keeps serving until every other node has
  // closed its session (which a node does once it saw the end, or by dying), at most
  // this long.
  absl::Duration exit_barrier_timeout = absl::Seconds(3);
};

// The cluster-wide failure summary every node prints (identical on every node: only
// what the rendezvous says goes in). Ends with a newline.
std::string FormatClusterFailure(const std::string& run_id, const std::string& reason,
                                 const rendezvous::WorkerFailure* root_cause, int restart_count,
                                 int max_restarts);
// fabric-run's exit status for a failed run: the root cause's (code or 128 +
// signal), 1 without a root cause (a lost node).
int ClusterExitCode(const rendezvous::WorkerFailure* root_cause);

class RdzvCoordinator : public Coordinator {
 public:
  // Creates the eventfd. No network I/O.
  static absl::StatusOr<std::unique_ptr<RdzvCoordinator>> Create(RdzvCoordinatorOptions options);
  ~RdzvCoordinator() override;

  // Hosts the rendezvous when this agent should (see above; UNAVAILABLE naming the
  // address when node rank 0 cannot bind it) and starts the worker thread, whose
  // first task connects (retrying until --join-timeout).
  absl::Status Start();
  bool hosting() const { return server_ != nullptr; }
  const std::string& server_address() const { return server_address_; }

  int event_fd() const override { return event_fd_; }
  std::vector<CoordinatorEvent> TakeEvents() override;
  void RequestPlan() override;
  void ReportFailure(const NodePlacement& plan, const LocalFailure& failure) override;
  void ReportSuccess(const NodePlacement& plan) override;
  void Leave(const std::string& reason) override;
  void Finish() override;
  void PublishStatus(std::string node_status) override;
  void WantPeerStatuses() override;
  std::optional<std::vector<std::string>> PeerStatuses() override;

  // Stops the worker thread (detaching it if a call is still blocked in it).
  void Shutdown();

 private:
  explicit RdzvCoordinator(RdzvCoordinatorOptions options) : options_(std::move(options)) {}
  void Post(CoordinatorEvent event);
  void Enqueue(std::function<void()> task);
  void WorkerLoop();
  // Asks the server for its status every keepalive_timeout / 3: a host that hangs or
  // vanishes without closing the connection (SIGSTOP, power loss, cable) is noticed
  // within about --keepalive-timeout.
  void WatchdogLoop();
  bool EnsureConnected();  // worker thread
  // One "waiting for nodes to join" line (launcher/join_wait.h) while `client`'s Join
  // blocks; runs on the join's WaitReporter thread.
  void ReportJoinWait(rendezvous::RendezvousClient* client, absl::Duration waited);
  void OnSessionEvent(const rendezvous::Event& event);
  CoordinatorEvent FailedEvent(const std::string& reason, const rendezvous::WorkerFailure* cause,
                               int restart_count);

  const RdzvCoordinatorOptions options_;
  std::string server_address_;  // what clients dial
  std::string advertised_;      // this node's address for MASTER_ADDR
  std::unique_ptr<rendezvous::RendezvousServer> server_;
  int event_fd_ = -1;
  std::set<int> used_ports_;               // worker thread only
  std::vector<std::string> last_members_;  // node ids of the last assignment (worker thread)
  // Node id -> node rank of the last assignment: written by the worker thread between
  // joins, read by the join's WaitReporter thread during one.
  std::map<std::string, int> last_ranks_;

  absl::Mutex mu_;
  std::unique_ptr<rendezvous::RendezvousClient> client_ ABSL_GUARDED_BY(mu_);
  std::deque<CoordinatorEvent> events_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool terminal_ ABSL_GUARDED_BY(mu_) = false;  // a terminal event was posted
  bool server_lost_ ABSL_GUARDED_BY(mu_) = false;
  // The status across nodes: fetched by the watchdog (with its status poll) while wanted.
  absl::Time peers_wanted_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool fetch_peers_now_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<std::vector<std::string>> peers_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
  std::thread watchdog_;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_RDZV_COORDINATOR_H_
