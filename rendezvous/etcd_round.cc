#include "rendezvous/etcd_round.h"

#include <algorithm>
#include <climits>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fabric::rendezvous {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

// Reads j[name] into *out when present; false when present with another type. Absent
// fields keep their defaults (an older writer's record still reads).
template <typename T>
bool Read(const Json& j, const char* name, T* out) {
  auto it = j.find(name);
  if (it == j.end()) return true;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return false;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return false;
  } else {
    if (!it->is_number_integer()) return false;
  }
  *out = it->get<T>();
  return true;
}

absl::StatusOr<Json> ParseObject(const std::string& text, const char* what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("etcd ", what, " is not a JSON object"));
  }
  return j;
}

absl::Status BadField(const char* what, const char* field) {
  return absl::InvalidArgumentError(
      absl::StrCat("etcd ", what, ": field '", field, "' has the wrong type"));
}

Json FailureJson(const WorkerFailure& f) {
  return Json{{"node_id", f.node_id},         {"node_rank", f.node_rank},
              {"global_rank", f.global_rank}, {"local_rank", f.local_rank},
              {"exit_code", f.exit_code},     {"signal", f.signal},
              {"message", f.message},         {"stderr_tail", f.stderr_tail}};
}

bool ReadFailure(const Json& j, WorkerFailure* f) {
  return j.is_object() && Read(j, "node_id", &f->node_id) && Read(j, "node_rank", &f->node_rank) &&
         Read(j, "global_rank", &f->global_rank) && Read(j, "local_rank", &f->local_rank) &&
         Read(j, "exit_code", &f->exit_code) && Read(j, "signal", &f->signal) &&
         Read(j, "message", &f->message) && Read(j, "stderr_tail", &f->stderr_tail);
}

std::optional<Phase> PhaseFromName(const std::string& name) {
  for (Phase p : {Phase::kForming, Phase::kRunning, Phase::kFailed, Phase::kSucceeded}) {
    if (name == PhaseName(p)) return p;
  }
  return std::nullopt;
}

bool Live(const NodeKey& n) { return n.left.empty(); }

int LiveCount(const std::map<std::string, NodeKey>& nodes) {
  return static_cast<int>(
      std::count_if(nodes.begin(), nodes.end(), [](const auto& kv) { return Live(kv.second); }));
}

// The forming round's joiners in member order (see Decide).
std::vector<const NodeKey*> JoinersInOrder(const RoundRecord& record,
                                           const std::map<std::string, NodeKey>& nodes) {
  std::vector<const NodeKey*> out;
  for (const auto& [id, n] : nodes) {
    if (Live(n) && n.round == record.round) out.push_back(&n);
  }
  auto key = [](const NodeKey* n) {
    return std::make_tuple(n->requested_node_rank >= 0 ? n->requested_node_rank : INT_MAX,
                           n->last_rank >= 0 ? n->last_rank : INT_MAX, n->create_revision,
                           n->node_id);
  };
  std::sort(out.begin(), out.end(),
            [&](const NodeKey* a, const NodeKey* b) { return key(a) < key(b); });
  return out;
}

RoundRecord Complete(const RoundRecord& record, const std::vector<const NodeKey*>& joiners) {
  RoundRecord next = record;
  next.phase = Phase::kRunning;
  next.members.clear();
  const size_t n = std::min<size_t>(joiners.size(), static_cast<size_t>(record.max_nodes));
  int base = 0;
  for (size_t i = 0; i < n; ++i) {
    Member m;
    m.node_id = joiners[i]->node_id;
    m.node_rank = static_cast<int>(i);
    m.address = joiners[i]->address;
    m.local_world_size = joiners[i]->local_world_size;
    m.global_rank_base = base;
    base += m.local_world_size;
    next.members.push_back(m);
  }
  next.master_addr = joiners[0]->address;
  next.master_port = joiners[0]->master_port;
  return next;
}

RoundRecord NextRound(const RoundRecord& record, const std::string& reason) {
  RoundRecord next = record;
  ++next.round;
  next.phase = Phase::kForming;
  next.members.clear();
  next.master_addr.clear();
  next.master_port = 0;
  next.reason = reason;
  next.has_root_cause = false;
  next.root_cause = WorkerFailure();
  next.failure_pending = false;
  return next;
}

}  // namespace

std::string RunPrefix(const std::string& run_id) {
  return absl::StrCat("/fabric-run/", run_id, "/");
}

std::string EncodeRecord(const RoundRecord& r) {
  Json members = Json::array();
  for (const Member& m : r.members) {
    members.push_back(
        {{"node_id", m.node_id}, {"address", m.address}, {"local_world_size", m.local_world_size}});
  }
  Json j = {{"round", r.round},
            {"phase", PhaseName(r.phase)},
            {"min_nodes", r.min_nodes},
            {"max_nodes", r.max_nodes},
            {"max_restarts", r.max_restarts},
            {"restart_count", r.restart_count},
            {"members", members},
            {"master_addr", r.master_addr},
            {"master_port", r.master_port},
            {"reason", r.reason},
            {"run_lease", r.run_lease}};
  if (r.has_root_cause) j["root_cause"] = FailureJson(r.root_cause);
  if (r.failure_pending) j["failure_pending"] = true;
  return Dump(j);
}

absl::StatusOr<RoundRecord> DecodeRecord(const std::string& json) {
  absl::StatusOr<Json> parsed = ParseObject(json, "round record");
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  RoundRecord r;
  std::string phase;
  for (auto [name, ok] : std::initializer_list<std::pair<const char*, bool>>{
           {"round", Read(j, "round", &r.round)},
           {"phase", Read(j, "phase", &phase)},
           {"min_nodes", Read(j, "min_nodes", &r.min_nodes)},
           {"max_nodes", Read(j, "max_nodes", &r.max_nodes)},
           {"max_restarts", Read(j, "max_restarts", &r.max_restarts)},
           {"restart_count", Read(j, "restart_count", &r.restart_count)},
           {"master_addr", Read(j, "master_addr", &r.master_addr)},
           {"master_port", Read(j, "master_port", &r.master_port)},
           {"reason", Read(j, "reason", &r.reason)},
           {"run_lease", Read(j, "run_lease", &r.run_lease)},
           {"failure_pending", Read(j, "failure_pending", &r.failure_pending)}}) {
    if (!ok) return BadField("round record", name);
  }
  std::optional<Phase> p = PhaseFromName(phase);
  if (!p) return absl::InvalidArgumentError(absl::StrCat("etcd round record: phase '", phase, "'"));
  r.phase = *p;
  if (r.round < 1 || r.min_nodes < 1 || r.max_nodes < r.min_nodes) {
    return absl::InvalidArgumentError("etcd round record: round or node counts out of range");
  }
  if (auto m = j.find("members"); m != j.end()) {
    if (!m->is_array()) return BadField("round record", "members");
    int base = 0;
    for (const Json& e : *m) {
      Member member;
      if (!e.is_object() || !Read(e, "node_id", &member.node_id) ||
          !Read(e, "address", &member.address) ||
          !Read(e, "local_world_size", &member.local_world_size) || member.local_world_size < 1) {
        return BadField("round record", "members");
      }
      member.node_rank = static_cast<int>(r.members.size());
      member.global_rank_base = base;
      base += member.local_world_size;
      r.members.push_back(member);
    }
  }
  if (auto c = j.find("root_cause"); c != j.end()) {
    if (!ReadFailure(*c, &r.root_cause)) return BadField("round record", "root_cause");
    r.has_root_cause = true;
  }
  return r;
}

std::string EncodeNode(const NodeKey& n) {
  Json j = {{"node_id", n.node_id},
            {"round", n.round},
            {"local_world_size", n.local_world_size},
            {"address", n.address},
            {"requested_node_rank", n.requested_node_rank},
            {"master_port", n.master_port},
            {"last_rank", n.last_rank},
            {"succeeded_round", n.succeeded_round}};
  if (!n.left.empty()) j["left"] = n.left;
  return Dump(j);
}

absl::StatusOr<NodeKey> DecodeNode(const std::string& json) {
  absl::StatusOr<Json> parsed = ParseObject(json, "node key");
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  NodeKey n;
  for (auto [name, ok] : std::initializer_list<std::pair<const char*, bool>>{
           {"node_id", Read(j, "node_id", &n.node_id)},
           {"round", Read(j, "round", &n.round)},
           {"local_world_size", Read(j, "local_world_size", &n.local_world_size)},
           {"address", Read(j, "address", &n.address)},
           {"requested_node_rank", Read(j, "requested_node_rank", &n.requested_node_rank)},
           {"master_port", Read(j, "master_port", &n.master_port)},
           {"last_rank", Read(j, "last_rank", &n.last_rank)},
           {"succeeded_round", Read(j, "succeeded_round", &n.succeeded_round)},
           {"left", Read(j, "left", &n.left)}}) {
    if (!ok) return BadField("node key", name);
  }
  if (n.node_id.empty() || n.local_world_size < 1) {
    return absl::InvalidArgumentError("etcd node key: no node id, or local_world_size < 1");
  }
  return n;
}

int JoinedCount(const RoundRecord& record, const std::map<std::string, NodeKey>& nodes) {
  return static_cast<int>(JoinersInOrder(record, nodes).size());
}

std::optional<RoundRecord> Decide(const RoundRecord& record,
                                  const std::map<std::string, NodeKey>& nodes, bool last_call_over,
                                  bool pending_over) {
  if (record.phase == Phase::kForming) {
    const std::vector<const NodeKey*> joiners = JoinersInOrder(record, nodes);
    const int joined = static_cast<int>(joiners.size());
    const bool everyone = record.round > 1 && joined == LiveCount(nodes);
    if (joined >= record.max_nodes ||
        (joined >= record.min_nodes && (last_call_over || everyone))) {
      return Complete(record, joiners);
    }
    return std::nullopt;
  }
  if (record.phase != Phase::kRunning) return std::nullopt;
  for (const Member& m : record.members) {
    auto it = nodes.find(m.node_id);
    if (it != nodes.end() && Live(it->second)) continue;
    const std::string why = it != nodes.end()
                                ? absl::StrCat("it left (", it->second.left, ")")
                                : "its etcd lease expired (agent died, hung or cut off for "
                                  "--keepalive-timeout)";
    const std::string loss = DescribeNodeLoss(m.node_id, why, m.node_rank);
    const int live = LiveCount(nodes);
    if (live < record.min_nodes) {
      RoundRecord failed = record;
      failed.phase = Phase::kFailed;
      failed.reason =
          absl::StrCat(loss, "; ", live, " node(s) left, below min_nodes=", record.min_nodes);
      return failed;
    }
    return NextRound(record, loss);
  }
  if (record.failure_pending) {
    if (!pending_over) return std::nullopt;
    RoundRecord failed = record;
    failed.phase = Phase::kFailed;
    failed.failure_pending = false;
    return failed;
  }
  bool all_done = !record.members.empty();
  for (const Member& m : record.members) {
    all_done = all_done && nodes.at(m.node_id).succeeded_round == record.round;
  }
  if (all_done) {
    RoundRecord done = record;
    done.phase = Phase::kSucceeded;
    return done;
  }
  if (static_cast<int>(record.members.size()) < record.max_nodes) {
    for (const auto& [node_id, n] : nodes) {
      const std::string& id = node_id;  // a structured binding cannot be captured (C++17)
      const bool member = std::any_of(record.members.begin(), record.members.end(),
                                      [&](const Member& m) { return m.node_id == id; });
      if (!member && Live(n)) {
        return NextRound(record, absl::StrCat("node '", id, "' joined; the job grows"));
      }
    }
  }
  return std::nullopt;
}

RoundRecord AfterFailure(const RoundRecord& record, const WorkerFailure& failure) {
  const std::string what = DescribeFailure(failure);
  RoundRecord next;
  if (record.restart_count < record.max_restarts) {
    next = NextRound(record, absl::StrCat("worker failure: ", what, "; restart ",
                                          record.restart_count + 1, "/", record.max_restarts));
    ++next.restart_count;
  } else {
    next = record;
    next.failure_pending = true;
    next.reason = absl::StrCat("worker failure: ", what,
                               "; no restarts left (max_restarts=", record.max_restarts, ")");
  }
  next.has_root_cause = true;
  next.root_cause = failure;
  return next;
}

std::optional<Assignment> AssignmentFor(const RoundRecord& record, const std::string& node_id) {
  if (record.phase != Phase::kRunning) return std::nullopt;
  Assignment a;
  a.round = record.round;
  a.num_nodes = static_cast<int>(record.members.size());
  a.master_addr = record.master_addr;
  a.master_port = record.master_port;
  a.restart_count = record.restart_count;
  a.max_restarts = record.max_restarts;
  a.members = record.members;
  bool found = false;
  for (const Member& m : record.members) {
    a.world_size += m.local_world_size;
    if (m.node_id == node_id) {
      found = true;
      a.node_rank = m.node_rank;
      a.global_rank_base = m.global_rank_base;
      a.local_world_size = m.local_world_size;
    }
  }
  if (!found) return std::nullopt;
  return a;
}

}  // namespace fabric::rendezvous
