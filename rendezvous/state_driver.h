// StateDriver (tests and fuzzing): drives RendezvousState with request sequences drawn
// from a source of numbers (a seeded generator in state_fuzz_test, the fuzzer's bytes in
// state_fuzzer) and checks the state machine's invariants after every call:
//  - the running round's members have unique, dense node ranks 0..n-1 in order, and
//    global rank bases are the prefix sums of their local world sizes;
//  - rounds never go back; a finished run never becomes unfinished; restarts spent never
//    decrease and never exceed the budget;
//  - no node is both a member and waiting (the state keeps one record with one role per
//    node, so this holds by construction; checked here through Status());
//  - the node records agree with the views the state derives from them: the running
//    round's member list, the counts per role and of successes (CheckRecords());
//  - a running round has between 1 and max_nodes members;
//  - every successful Join completion agrees with the others of its round (round, node
//    count, world size, master address) and no two nodes get one node rank in a round.
#ifndef FABRIC_RENDEZVOUS_STATE_DRIVER_H_
#define FABRIC_RENDEZVOUS_STATE_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "rendezvous/state.h"

namespace fabric::rendezvous {

class StateDriver {
 public:
  // `next` supplies every choice (job shape, node, request, values).
  StateDriver(std::function<uint32_t()> next, int nodes);

  // One request or tick. Returns the broken invariant, or "" when all hold.
  std::string Step();
  int completions() const { return completions_; }

 private:
  struct RoundView {
    int num_nodes = -1;
    int world_size = -1;
    std::string master_addr;
    std::set<int> ranks;
  };
  static StateOptions Options();
  std::string Check(const std::vector<Effect>& effects);

  std::function<uint32_t()> next_;
  RendezvousState state_;
  std::vector<std::string> ids_;
  std::map<std::string, int64_t> sessions_;
  std::map<int64_t, RoundView> rounds_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  int min_ = 1, max_ = 1, restarts_ = 0;
  int64_t last_round_ = 0;
  int last_restarts_ = 0;
  bool finished_ = false;
  int completions_ = 0;
};

}  // namespace fabric::rendezvous

#endif  // FABRIC_RENDEZVOUS_STATE_DRIVER_H_
