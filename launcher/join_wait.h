// The line a node prints while it waits for the others to join a round of the
// rendezvous (on a WaitSchedule: after 2 s, then 4, 8, 16 ... s, gaps capped at 60 s):
//   fabric-run: waiting for nodes to join the rendezvous at 10.0.0.1:29400: 1 of 2
//   joined; missing node rank 1; 9m58s of --join-timeout 10m left
// Pure.
#ifndef FABRIC_LAUNCHER_JOIN_WAIT_H_
#define FABRIC_LAUNCHER_JOIN_WAIT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace fabric::launcher {

struct JoinWait {
  std::string server_address;
  int joined = 0;  // nodes in the forming round, this one included
  int min_nodes = 1;
  int max_nodes = 1;
  // Who is missing, when known (e.g. "node rank 1", "node rank 1 (host-b:42)"); empty
  // when not known: then only the count is said.
  std::vector<std::string> missing;
  absl::Duration waited;
  absl::Duration join_timeout;
  // Set when the rendezvous's status could not be read: then joined and missing are not
  // said, this is.
  std::string unknown_why;
};

// The line, without "fabric-run: " (the logger adds it) and without a newline.
std::string FormatJoinWait(const JoinWait& wait);

// Who is missing from the forming round whose joined node ids are `joined`:
//  * after an earlier round, its members (`previous`: node id -> node rank) that have not
//    joined again, as "node rank R (ID)";
//  * on a first join where only this node is in, with its node rank given and a fixed
//    number of nodes (min == max), every other node rank;
//  * otherwise nobody known (empty).
std::vector<std::string> MissingNodes(const std::vector<std::string>& joined,
                                      const std::map<std::string, int>& previous,
                                      const std::string& self_id, std::optional<int> self_rank,
                                      int min_nodes, int max_nodes);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_JOIN_WAIT_H_
