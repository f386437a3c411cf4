#include "launcher/join_wait.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fabric::launcher {

std::string FormatJoinWait(const JoinWait& w) {
  std::string s =
      absl::StrCat("waiting for nodes to join the rendezvous at ", w.server_address, ": ");
  const absl::Duration left = std::max(absl::ZeroDuration(), w.join_timeout - w.waited);
  const std::string time_left =
      absl::StrCat("; ", absl::FormatDuration(absl::Trunc(left, absl::Seconds(1))),
                   " of --join-timeout ", absl::FormatDuration(w.join_timeout), " left");
  if (!w.unknown_why.empty()) {
    absl::StrAppend(&s, "how many joined is not known (", w.unknown_why, ")", time_left);
    return s;
  }
  absl::StrAppend(&s, w.joined, " of ", w.min_nodes);
  if (w.max_nodes != w.min_nodes) absl::StrAppend(&s, " (at most ", w.max_nodes, ")");
  absl::StrAppend(&s, " joined; ");
  const int short_by = std::max(0, w.min_nodes - w.joined);
  if (!w.missing.empty()) {
    absl::StrAppend(&s, "missing ", absl::StrJoin(w.missing, ", "));
  } else if (short_by > 0) {
    absl::StrAppend(&s, "missing ", short_by, " (which node ranks is not known yet)");
  } else {
    absl::StrAppend(&s, "the round completes at the end of its last-call window");
  }
  absl::StrAppend(&s, time_left);
  return s;
}

std::vector<std::string> MissingNodes(const std::vector<std::string>& joined,
                                      const std::map<std::string, int>& previous,
                                      const std::string& self_id, std::optional<int> self_rank,
                                      int min_nodes, int max_nodes) {
  auto in = [&](const std::string& id) {
    return std::find(joined.begin(), joined.end(), id) != joined.end();
  };
  std::vector<std::pair<int, std::string>> gone;  // by node rank
  for (const auto& [id, rank] : previous) {
    if (id != self_id && !in(id)) gone.emplace_back(rank, id);
  }
  std::vector<std::string> out;
  if (!previous.empty()) {
    std::sort(gone.begin(), gone.end());
    for (const auto& [rank, id] : gone)
      out.push_back(absl::StrCat("node rank ", rank, " (", id, ")"));
    return out;
  }
  const bool only_self = joined.empty() || (joined.size() == 1 && joined[0] == self_id);
  if (!only_self || !self_rank.has_value() || min_nodes != max_nodes) return out;
  for (int r = 0; r < min_nodes; ++r) {
    if (r != *self_rank) out.push_back(absl::StrCat("node rank ", r));
  }
  return out;
}

}  // namespace fabric::launcher
