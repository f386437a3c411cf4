// libFuzzer target: what an agent reads from etcd (etcd_round.h), where anything may be
// written by a buggy or foreign writer. Input: byte 0 picks the round record (even) or a
// node key (odd); the rest is the JSON value. Invariants: decoding never crashes;
// a decoded value encodes to text that decodes to the same encoding (a fixed point);
// and Decide on a decoded record with a few live nodes returns a record whose members,
// when running, have dense node ranks, prefix-sum rank bases and at most max_nodes.
#include <cstdint>
#include <map>
#include <string>

#include "rendezvous/etcd_round.h"
#include "tools/fuzz/check.h"

namespace {

using namespace fabric::rendezvous;

void CheckMembers(const RoundRecord& r) {
  if (r.phase != Phase::kRunning) return;
  FUZZ_CHECK(static_cast<int>(r.members.size()) <= r.max_nodes, "more members than max_nodes");
  FUZZ_CHECK(!r.members.empty(), "a running round without members");
  int base = 0;
  for (size_t i = 0; i < r.members.size(); ++i) {
    FUZZ_CHECK(r.members[i].node_rank == static_cast<int>(i), "node ranks not dense");
    FUZZ_CHECK(r.members[i].global_rank_base == base, "rank bases not prefix sums");
    base += r.members[i].local_world_size;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 1) {
    absl::StatusOr<NodeKey> n = DecodeNode(text);
    if (!n.ok()) return 0;
    const std::string once = EncodeNode(*n);
    absl::StatusOr<NodeKey> again = DecodeNode(once);
    FUZZ_CHECK(again.ok(), once);
    FUZZ_CHECK(EncodeNode(*again) == once, once);
    return 0;
  }
  absl::StatusOr<RoundRecord> r = DecodeRecord(text);
  if (!r.ok()) return 0;
  const std::string once = EncodeRecord(*r);
  absl::StatusOr<RoundRecord> again = DecodeRecord(once);
  FUZZ_CHECK(again.ok(), once);
  FUZZ_CHECK(EncodeRecord(*again) == once, once);
  std::map<std::string, NodeKey> nodes;
  for (int i = 0; i < 3; ++i) {
    NodeKey n;
    n.node_id = std::string(1, static_cast<char>('a' + i));
    n.round = r->round - (i == 2 ? 1 : 0);
    n.local_world_size = 1 + i;
    n.requested_node_rank = i == 1 ? 0 : -1;
    n.succeeded_round = i == 0 ? r->round : 0;
    n.create_revision = 10 - i;
    nodes[n.node_id] = n;
  }
  for (const Member& m : r->members) {  // the members are live (or left) too
    if (nodes.count(m.node_id) == 0 && nodes.size() < 8) {
      NodeKey n;
      n.node_id = m.node_id;
      n.round = r->round;
      n.local_world_size = m.local_world_size;
      n.left = nodes.size() % 2 ? "" : "left";
      nodes[n.node_id] = n;
    }
  }
  for (bool over : {false, true}) {
    if (std::optional<RoundRecord> next = Decide(*r, nodes, over, over)) {
      CheckMembers(*next);
      FUZZ_CHECK(next->round >= r->round, "the round went back");
      FUZZ_CHECK(next->restart_count == r->restart_count, "Decide spent a restart");
    }
  }
  if (r->phase == Phase::kRunning && !r->failure_pending) {
    WorkerFailure f;
    f.node_id = "a";
    RoundRecord after = AfterFailure(*r, f);
    FUZZ_CHECK(after.has_root_cause, "a failure without its root cause");
    FUZZ_CHECK(after.round > r->round || after.failure_pending, "a failure changed nothing");
  }
  return 0;
}
