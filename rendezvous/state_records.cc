// RendezvousState (state.h), its node records: how a record is made, changes role and
// is dropped (the only code that touches the counts derived from the records), the reads
// over all records, and the self-check of those counts and views (CheckRecords). The
// transitions themselves are in state.cc.
#include "rendezvous/state.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fabric {
namespace rendezvous {

bool RendezvousState::IsMember(const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  return it != nodes_.end() && it->second.role == Role::kMember;
}

int RendezvousState::AliveCount() const {
  return RoleCount(Role::kMember) + RoleCount(Role::kWaiting) + RoleCount(Role::kExpected);
}

RendezvousState::NodeRecord& RendezvousState::Track(const std::string& node_id) {
  auto [it, added] = nodes_.try_emplace(node_id);
  NodeRecord& node = it->second;
  if (added) {
    ++role_count_[static_cast<int>(Role::kIdle)];
  } else if (node.role == Role::kDeparted) {
    SetRole(node, Role::kIdle);
    node.last_seen = absl::Time();
    node.member_since = absl::Time();
  }
  return node;
}

void RendezvousState::SetRole(NodeRecord& node, Role role) {
  if (node.role == role) return;
  if (node.role == Role::kMember && node.succeeded) {
    node.succeeded = false;
    --succeeded_count_;
  }
  if (node.role == Role::kWaiting) node.join_seq = 0;
  if (role == Role::kIdle || role == Role::kDeparted) node.request = JoinRequest();
  --role_count_[static_cast<int>(node.role)];
  ++role_count_[static_cast<int>(role)];
  node.role = role;
}

void RendezvousState::Depart(NodeMap::iterator it) {
  SetRole(it->second, Role::kDeparted);
  it->second.session_id = 0;
  if (!it->second.last_rank.has_value()) Forget(it);
}

RendezvousState::NodeMap::iterator RendezvousState::Forget(NodeMap::iterator it) {
  --role_count_[static_cast<int>(it->second.role)];
  return nodes_.erase(it);
}

std::vector<std::string> RendezvousState::NodesIn(Role role) const {
  std::vector<std::string> ids;
  for (const auto& [id, node] : nodes_) {
    if (node.role == role) ids.push_back(id);
  }
  return ids;
}

RendezvousState::NodeRecord* RendezvousState::FindSession(const std::string& node_id,
                                                          int64_t session_id) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.role == Role::kDeparted) return nullptr;
  return it->second.session_id == session_id ? &it->second : nullptr;
}

std::vector<std::string> RendezvousState::ConnectedNodes() const {
  std::vector<std::string> out;
  for (const auto& [id, node] : nodes_) {
    if (node.session_id != 0) out.push_back(id);  // never set on a departed node
  }
  return out;
}

std::string RendezvousState::CheckRecords() const {
  int count[kNumRoles] = {};
  int succeeded = 0;
  for (const auto& [id, node] : nodes_) {
    ++count[static_cast<int>(node.role)];
    const bool in_round =
        node.role == Role::kMember || node.role == Role::kWaiting || node.role == Role::kExpected;
    if (node.request.node_id != (in_round ? id : "")) return id + ": a stale or missing join";
    if ((node.role == Role::kWaiting) != (node.join_seq > 0)) return id + ": a stale join order";
    if (node.succeeded && node.role != Role::kMember) return id + ": succeeded, not a member";
    if (node.succeeded) ++succeeded;
    if (node.role == Role::kDeparted && (node.session_id != 0 || !node.last_rank.has_value())) {
      return id + ": a departed record with a session or without a last rank";
    }
  }
  for (int r = 0; r < kNumRoles; ++r) {
    if (count[r] != role_count_[r]) {
      return absl::StrCat("role ", r, " counted ", role_count_[r], ", holds ", count[r]);
    }
  }
  if (succeeded != succeeded_count_) {
    return absl::StrCat(succeeded, " members succeeded, counted ", succeeded_count_);
  }
  const int members = count[static_cast<int>(Role::kMember)];
  const int expected = count[static_cast<int>(Role::kExpected)];
  const int waiting = count[static_cast<int>(Role::kWaiting)];
  if (phase_ == Phase::kSucceeded || phase_ == Phase::kFailed) {
    if (waiting + expected > 0) return "a finished run has waiting or expected nodes";
    if (phase_ == Phase::kFailed && members > 0) return "a failed run has members";
    return "";
  }
  if (phase_ == Phase::kForming && members > 0) return "a forming round has members";
  if (phase_ == Phase::kRunning && expected > 0) return "a running round has expected nodes";
  if (static_cast<int>(members_.size()) != members) {
    return absl::StrCat(members_.size(), " members listed, ", members, " member records");
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    auto it = nodes_.find(members_[i].node_id);
    if (it == nodes_.end() || it->second.role != Role::kMember ||
        it->second.last_rank != static_cast<int>(i)) {
      return members_[i].node_id + ": listed as a member, its record disagrees";
    }
  }
  return "";
}

}  // namespace rendezvous
}  // namespace fabric
