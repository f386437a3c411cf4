// EtcdCoordinator: the Coordinator of a multi-node agent on an etcd cluster
// (--rdzv-backend etcd). No agent hosts anything: the run's state is the round record and
// the node keys of rendezvous/etcd_round.h, every transition is a compare-and-swap that
// any agent may write, and what changes is pushed to every agent by an etcd watch. So
// the loss of any host, node 0's included, is a round change like any other node's, and
// the loss of an etcd member is etcd's business (fail-over in rendezvous/etcd_client.h).
//
// Liveness: this agent's node key is attached to its own lease (TTL --keepalive-timeout,
// renewed every third of it); the run record to the run lease, which the decider renews.
// With etcd unreachable (no quorum) the workers keep running for --rdzv-grace: when etcd
// answers again within it, the job goes on (etcd renews every lease on a new leader);
// otherwise a kFatal event names the endpoints and the grace, and the agent stops.
//
// Who watches what (so that one change wakes O(1) agents, not all N, apart from the
// round record, which every agent must see): the node whose key was created first (the
// oldest live node key, etcd's election recipe) is the decider: it watches the whole
// prefix, keeps every node key and writes the transitions Decide() calls for. Every
// other agent watches the keys from `round` on (the record and the status request; the
// node keys sort before them) and the one node key created just before its own: when
// that key goes, it looks again, and the oldest becomes the decider. The compare-and-swap
// keeps a transition right even while two agents both think they decide. Any agent
// writes its own worker failures (AfterFailure) from the record alone.
//
// One thread of its own does every etcd call and owns the known state (the record, the
// node keys); the agent's calls, the watches' batches and the timers reach it through
// one queue. Events go out through an eventfd, as the Coordinator interface says.
//
// Thread safety: all public methods are safe from any thread.
#ifndef FABRIC_LAUNCHER_ETCD_COORDINATOR_H_
#define FABRIC_LAUNCHER_ETCD_COORDINATOR_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/wait_schedule.h"
#include "launcher/coordinator.h"
#include "launcher/options.h"
#include "rendezvous/etcd_client.h"
#include "rendezvous/etcd_round.h"
#include "rendezvous/tls.h"

namespace fabric::launcher {

struct EtcdCoordinatorOptions {
  LaunchOptions launch;  // nodes, node rank, devices, restarts, timeouts, etcd endpoints
  std::string run_id;
  std::string node_id;  // unique per agent: hostname:pid
  rendezvous::TlsConfig tls;
  // How long a finished run's record stays (so a late node, or a reused --rdzv-id, hears
  // that it is over); then etcd drops it with its lease.
  absl::Duration finished_ttl = absl::Minutes(10);
};

class EtcdCoordinator : public Coordinator {
 public:
  // Creates the eventfd and the etcd client. No network I/O.
  static absl::StatusOr<std::unique_ptr<EtcdCoordinator>> Create(EtcdCoordinatorOptions options);
  ~EtcdCoordinator() override;

  // First contact, synchronously: this node's lease, the run's record (created when this
  // is the first node; a finished run or different --num-nodes / --max-restarts are
  // refused), the watch. Then the thread starts. Errors are one line each: etcd
  // unreachable (naming the endpoints), the run already finished, a settings mismatch.
  absl::Status Start();

  int event_fd() const override { return event_fd_; }
  std::vector<CoordinatorEvent> TakeEvents() override;
  void RequestPlan() override;
  void ReportFailure(const NodePlacement& plan, const LocalFailure& failure) override;
  void ReportSuccess(const NodePlacement& plan) override;
  void Leave(const std::string& reason) override;
  void Finish() override;
  // `fabric-run status` across nodes: an asking node puts the run's `want` key (on a
  // lease of a minute); while it exists every node writes its status under a prefix of
  // its own (StatusPrefix, outside the run's, on the node's lease) each time it is given
  // one, and the asker reads them with one range (after 2.5 s, then every 2 s). Nobody
  // asking: no status writes at all (a long job does not grow etcd's history).
  void PublishStatus(std::string node_status) override;
  bool StatusWanted() override { return status_wanted_.load(); }
  void WantPeerStatuses() override;
  std::optional<std::vector<std::string>> PeerStatuses() override;

  // Stops the thread (the watch and the keep-alives with it).
  void Shutdown();

 private:
  // What reaches the thread.
  struct Input {
    enum class Kind { kWatch, kWatchError, kPredGone, kPlan, kFailure, kSuccess, kLeave, kFinish };
    Kind kind = Kind::kPlan;
    int generation = 0;                         // kWatch, kWatchError, kPredGone: which watch
    std::vector<rendezvous::EtcdEvent> events;  // kWatch
    absl::Status error;                         // kWatchError
    int64_t round = 0;                          // kFailure, kSuccess
    rendezvous::WorkerFailure failure;          // kFailure
    std::string reason;                         // kLeave
  };

  explicit EtcdCoordinator(EtcdCoordinatorOptions options);
  void Push(Input input);
  void Post(CoordinatorEvent event);
  void PostFatal(const std::string& message);
  std::string Endpoints() const;
  absl::Status Bootstrap();  // Start's etcd work
  // The run's watch from `from_revision`: the whole prefix for the decider, else the keys
  // from `round` on. Batches of a replaced watch are dropped (generation).
  void StartWatch(int64_t from_revision);
  // Once this node's key is in etcd, and again when the key it waits on goes: decider,
  // or the watch on the key created just before this node's. Retried while etcd fails.
  void FindRole(absl::Time now);
  // For a wait line: the nodes that joined the forming round, as the decider knows them;
  // any other agent reads the live node keys' names (keys only: 256 agents reading 256
  // values each starve etcd) and counts every live node as joined.
  std::vector<std::string> JoinedNow();
  void Loop();
  // The steps of one loop turn (thread only).
  void Apply(const Input& input);
  void ApplyEvent(const rendezvous::EtcdEvent& event);
  void KeepAlive(absl::Time now);
  void WriteNode(absl::Time now);  // puts this node's key as me_ says
  void TryFailure();
  void Advance(absl::Time now);  // Decide + CAS
  void Emit(absl::Time now);     // the agent's events from the record
  void ReportWaiting(absl::Time now);
  void ServeStatus(absl::Time now);  // publishes and fetches the statuses across nodes
  bool Cas(const rendezvous::RoundRecord& next);
  void Cleanup();  // leave etcd: this node's key and lease; the run lease once it ended

  const EtcdCoordinatorOptions options_;
  const std::string prefix_;
  std::unique_ptr<rendezvous::EtcdClient> etcd_;
  int event_fd_ = -1;

  absl::Mutex mu_;
  std::deque<Input> inputs_ ABSL_GUARDED_BY(mu_);
  std::deque<CoordinatorEvent> events_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Cleanup done (Leave / Finish wait for it)
  std::optional<std::string> status_to_publish_ ABSL_GUARDED_BY(mu_);
  absl::Time peers_wanted_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool fetch_peers_now_ ABSL_GUARDED_BY(mu_) = false;
  bool want_asked_ ABSL_GUARDED_BY(mu_) = false;  // WantPeerStatuses since the last turn
  std::optional<std::vector<std::string>> peers_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<rendezvous::EtcdWatch> watch_;  // Start, then the thread's
  std::thread thread_;

  // The thread's role (FindRole).
  bool decider_ = false;
  bool role_known_ = false;
  absl::Time next_role_try_ = absl::InfinitePast();
  int64_t my_create_revision_ = 0;
  std::unique_ptr<rendezvous::EtcdWatch> pred_watch_;  // non-decider: the key before its own
  int watch_generation_ = 0;  // of watch_ (inputs of older ones are dropped)
  int pred_generation_ = 0;   // of pred_watch_
  // Statuses across nodes (ServeStatus).
  // The run's `want` key exists (written by the thread, read by the agent's too).
  std::atomic<bool> status_wanted_{false};
  std::string latest_status_;
  bool status_dirty_ = false;  // latest_status_ not written yet
  absl::Time want_put_at_ = absl::InfinitePast();

  // The thread's own state.
  int64_t lease_ = 0;
  std::optional<rendezvous::RoundRecord> record_;
  std::map<std::string, rendezvous::NodeKey> nodes_;  // live node keys, by node id
  rendezvous::NodeKey me_;                            // what this node's key holds
  bool me_written_ = false;  // this node's key was written (its deletion is this node's loss)
  bool node_dirty_ = false;  // me_ changed since it was last written
  absl::Time next_node_write_ = absl::InfinitePast();
  absl::Time cas_retry_at_ = absl::InfinitePast();  // after a CAS of unknown outcome
  bool want_plan_ = false;
  absl::Time want_since_;
  std::optional<WaitSchedule> wait_lines_;
  int64_t plan_round_ = 0;     // round of the last kPlan posted (0: none)
  int64_t changed_round_ = 0;  // round of the last kRoundChanged posted
  int64_t spare_round_ = 0;    // round in which "waits as a spare" was said
  bool terminal_ = false;      // a terminal event was posted
  std::optional<std::pair<int64_t, rendezvous::WorkerFailure>> failure_;
  // The record revision a CAS was lost (or its outcome unknown) against: no transition
  // is tried again until the watch shows a newer record.
  int64_t cas_lost_revision_ = -1;
  std::map<std::string, int> last_members_;  // node id -> node rank in this node's last plan
  absl::Time last_call_since_ = absl::InfiniteFuture();  // min joiners seen since
  int64_t last_call_round_ = 0;
  absl::Time pending_since_ = absl::InfiniteFuture();  // a failure pending seen since
  absl::Time next_keepalive_;
  absl::Time etcd_down_since_ = absl::InfiniteFuture();
  std::optional<WaitSchedule> down_lines_;  // while etcd does not answer
  absl::Time next_peer_fetch_ = absl::InfinitePast();
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ETCD_COORDINATOR_H_
