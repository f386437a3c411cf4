// EtcdRound: the pure logic of the etcd control plane (no I/O, no clock). A run's whole
// state is a few etcd keys under RunPrefix(run id) (doc/rendezvous.md "etcd backend"):
//
//   <prefix>round           the RoundRecord (JSON). Written only by compare-and-swap on
//                           its mod_revision, so of many agents that see the same fact
//                           and try the same transition exactly one wins; attached to the
//                           run lease, which the deciding agent keeps alive (all gone:
//                           the record expires).
//   <prefix>node/<node id>  each agent's NodeKey (JSON), attached to that agent's own
//                           lease (TTL --keepalive-timeout): the key's deletion, by lease
//                           expiry or revocation, is the node's loss.
//   <prefix>want            exists while someone runs `fabric-run status` (a lease of a
//                           minute): then every node writes its status (outside the prefix).
//
// Node keys sort before `round` and `want`: an agent that does not decide watches the
// keys from `round` on, the decider the whole prefix (launcher/etcd_coordinator.h).
//
// The deciding agent keeps the newest record and node keys, and asks
// Decide() what transition (if any) they call for: complete the forming round, bump the
// round after a node loss or growth, end the run. A worker failure is AfterFailure().
// Nobody is special: any agent may write any transition, node 0's included.
#ifndef FABRIC_RENDEZVOUS_ETCD_ROUND_H_
#define FABRIC_RENDEZVOUS_ETCD_ROUND_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rendezvous/types.h"

namespace fabric::rendezvous {

// "/fabric-run/<run id>/": every key of the run starts with it.
std::string RunPrefix(const std::string& run_id);
inline constexpr char kRoundKey[] = "round";
inline constexpr char kNodeKeyPrefix[] = "node/";
inline constexpr char kWantKey[] = "want";

struct RoundRecord {
  int64_t round = 1;
  Phase phase = Phase::kForming;
  int min_nodes = 1;
  int max_nodes = 1;
  int max_restarts = 0;
  int restart_count = 0;
  // kRunning / kSucceeded: the round's members by node rank (global rank bases filled).
  std::vector<Member> members;
  std::string master_addr;
  int master_port = 0;
  // The last round change's or the failure's reason ("" in round 1).
  std::string reason;
  bool has_root_cause = false;
  WorkerFailure root_cause;
  // kRunning: a worker failed with no restart left; the run fails unless a member is
  // found lost first (its workers' peers fail too when a node dies, before its lease
  // expires: then the loss, not the failure, decides).
  bool failure_pending = false;
  int64_t run_lease = 0;  // the lease the deciding agent keeps alive
  // etcd's, not encoded: the CAS expects it (0: the record does not exist yet).
  int64_t mod_revision = 0;
};

struct NodeKey {
  std::string node_id;
  int64_t round = 0;  // the round it joined (or waits in, as a spare)
  int local_world_size = 1;
  std::string address;           // MASTER_ADDR if it gets node rank 0
  int requested_node_rank = -1;  // --node-rank, -1: none
  int master_port = 0;           // a port free on it when it joined
  int last_rank = -1;            // its node rank in the last round it ran (rank order kept)
  int64_t succeeded_round = 0;   // every worker of it succeeded in this round
  std::string left;              // non-empty: it left on purpose, why
  int64_t create_revision = 0;   // etcd's, not encoded: join order
};

std::string EncodeRecord(const RoundRecord& record);
// INVALID_ARGUMENT naming what is wrong (not JSON, a field of the wrong type, a phase
// unknown, members whose ranks are not 0..n-1).
absl::StatusOr<RoundRecord> DecodeRecord(const std::string& json);
std::string EncodeNode(const NodeKey& node);
absl::StatusOr<NodeKey> DecodeNode(const std::string& json);

// The nodes that joined the forming round (live, not left, NodeKey.round == record.round).
int JoinedCount(const RoundRecord& record, const std::map<std::string, NodeKey>& nodes);

// The transition what is known calls for, or nullopt. `nodes` holds every live node key
// by node id. `last_call_over`: the forming round has had at least min_nodes joiners for
// --last-call-timeout (the caller's clock). `pending_over`: a pending failure has been
// seen for longer than a lease lives (the caller's clock). The returned record's
// mod_revision is the one to compare against (the input's).
//  - forming: complete when max_nodes joined; or min_nodes joined and the last call is
//    over (after round 1: or every live node joined, nobody else is coming). Members in
//    order of the requested node rank, then the last rank, then join order (so after a
//    loss the survivors keep their order and rank 0 moves to the first survivor).
//  - running: a member gone or left: fail below min_nodes, else the next round (no
//    restart spent); a live node waiting beyond the members while fewer than max_nodes
//    run: the next round (the job grows); every member succeeded in this round: done;
//    a failure pending: failed once pending_over, unless a member was lost first.
std::optional<RoundRecord> Decide(const RoundRecord& record,
                                  const std::map<std::string, NodeKey>& nodes, bool last_call_over,
                                  bool pending_over = false);

// A worker failure in the running round `record`: the next round with one more restart
// spent or, with none left, the failure pending (see failure_pending). REQUIRES:
// record.phase == kRunning and no failure pending.
RoundRecord AfterFailure(const RoundRecord& record, const WorkerFailure& failure);

// What node `node_id` runs in a running record, or nullopt when it is not a member.
std::optional<Assignment> AssignmentFor(const RoundRecord& record, const std::string& node_id);

}  // namespace fabric::rendezvous

#endif  // FABRIC_RENDEZVOUS_ETCD_ROUND_H_
