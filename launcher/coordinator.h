// Coordinator: where a multi-node agent's attempts come from and where their
// outcomes go (the rendezvous, see rdzv_coordinator.h). The interface has no gRPC in
// it, so the agent library (and the single-node fabric-run binary) never links gRPC.
//
// Everything is asynchronous: requests return at once and their consequences arrive
// as CoordinatorEvents, together with what the rendezvous pushes (a round change, the
// run's end, a lost server). event_fd() becomes readable whenever TakeEvents() has
// something, so the agent waits for workers, signals and the rendezvous in one epoll
// loop.
//
// Thread safety: implementations are safe to call from any thread; the agent uses
// one.
#ifndef FABRIC_LAUNCHER_COORDINATOR_H_
#define FABRIC_LAUNCHER_COORDINATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/placement.h"
#include "launcher/exit_status.h"

namespace fabric::launcher {

// A node the rendezvous lost (its session stream closed, its keep-alives stopped, it
// left).
struct LostNode {
  std::string node_id;
  int node_rank = -1;  // -1: it held no rank in the running round
  std::string why;     // e.g. "its session stream closed (agent exited or connection broken)"
};

struct CoordinatorEvent {
  enum class Kind {
    kPlan,          // the round this node asked for completed: run `plan`
    kRoundChanged,  // a newer round (`round`) began: stop the workers and rejoin
    kRunSucceeded,  // terminal: every node's workers succeeded
    kRunFailed,     // terminal: `message` is the cluster-wide summary; exit `exit_code`
    kFatal,         // terminal for this node: `message` says why (server lost, refused)
  };
  Kind kind = Kind::kFatal;
  NodePlacement plan;
  int64_t round = 0;
  std::string message;
  int exit_code = 1;
  // kRoundChanged: the membership changed (a node was lost or came), no worker failed.
  bool membership_change = false;
  // kPlan: the id of the node that holds global rank 0 (it serves the workers' store);
  // empty when not known.
  std::string rank0_node;
  // kRoundChanged with membership_change, or kRunFailed because too few nodes were left:
  // the node whose loss caused it, when one did.
  std::optional<LostNode> lost_node;
};

// --recovery in-place with several nodes: whether a node's running workers can go on
// into `next` (their new world and ranks told to them) instead of being restarted. Only
// when the job shrinks (fewer ranks), this node keeps its number of workers and global
// rank 0 stays on the same, known node (its worker serves the store every worker keeps).
// Pure.
bool ShrinksInPlace(const NodePlacement& current, const std::string& current_rank0_node,
                    const NodePlacement& next, const std::string& next_rank0_node);

// The root cause of a local attempt's failure, as the agent saw it.
struct LocalFailure {
  int global_rank = 0;
  int local_rank = 0;
  ExitStatus status;
  std::string message;      // e.g. the torchelastic error file's message
  std::string stderr_tail;  // last lines of that rank's stderr
  // False when running the attempt again would fail the same way (a worker could not be
  // spawned): a single node's coordinator does not restart for it. The rendezvous decides
  // for every node and does not read it.
  bool retryable = true;
  // Workers this node replaced in place so far (--recovery in-place), every attempt:
  // they used up restarts too. A single node's coordinator counts them; the rendezvous
  // does not read it.
  int in_place_spent = 0;
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;

  // Readable (level-triggered) while TakeEvents() would return something.
  virtual int event_fd() const = 0;
  // Every queued event, oldest first; drains event_fd().
  virtual std::vector<CoordinatorEvent> TakeEvents() = 0;

  // Joins the next round; kPlan (or a terminal event) follows.
  virtual void RequestPlan() = 0;
  // A local worker failed in `plan`'s round: the rendezvous restarts (or fails) the
  // run for every node; kRoundChanged or kRunFailed follows.
  virtual void ReportFailure(const NodePlacement& plan, const LocalFailure& failure) = 0;
  // Every local worker of `plan` succeeded; kRunSucceeded follows once every node's
  // have (or kRoundChanged / kRunFailed when another node fails meanwhile).
  virtual void ReportSuccess(const NodePlacement& plan) = 0;
  // This node stops for good (interrupted): the others go on without it or fail.
  // Blocks for at most a few seconds.
  virtual void Leave(const std::string& reason) = 0;
  // Called once before the agent exits after a terminal event; may block for a
  // bounded time (the rendezvous host keeps serving until the others saw the end).
  virtual void Finish() = 0;

  // `fabric-run status` across nodes (launcher/job_status.h; defaults: one node, nothing to
  // do). PublishStatus: this node's status (JSON) for the other nodes' agents; never
  // blocks. WantPeerStatuses: someone asks; fetch the other nodes' statuses now and keep
  // them fresh for a while (a minute). PeerStatuses: every node's as last fetched (this
  // node's included), nullopt when none was fetched yet.
  virtual void PublishStatus(std::string node_status) {}
  // Whether a PublishStatus now would reach anyone (false: the agent need not build it).
  virtual bool StatusWanted() { return true; }
  virtual void WantPeerStatuses() {}
  virtual std::optional<std::vector<std::string>> PeerStatuses() { return std::nullopt; }
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_COORDINATOR_H_
