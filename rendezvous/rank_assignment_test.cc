#include "rendezvous/rank_assignment.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fabric {
namespace rendezvous {
namespace {

RankCandidate C(const char* id, int seq, int requested = -1, std::optional<int> previous = {}) {
  return RankCandidate{id, requested, previous, seq};
}

struct Row {
  const char* name;
  std::vector<RankCandidate> candidates;
  int max_nodes;
  std::vector<std::string> want;  // node ids by rank
};

TEST(AssignNodeRanksTest, Table) {
  const Row rows[] = {
      {"join order", {C("b", 2), C("a", 1), C("c", 3)}, 3, {"a", "b", "c"}},
      {"requested ranks win", {C("a", 1, 1), C("b", 2, 0)}, 2, {"b", "a"}},
      {"a requested rank beyond the count is ignored", {C("a", 1, 5), C("b", 2)}, 2, {"a", "b"}},
      {"two asking for one rank: the first keeps it", {C("a", 1, 0), C("b", 2, 0)}, 2, {"a", "b"}},
      {"previous members keep their ranks",
       {C("new", 1), C("old1", 2, -1, 1), C("old0", 3, -1, 0)},
       3,
       {"old0", "old1", "new"}},
      {"previous members come first when the round is full",
       {C("new", 1), C("old", 5, -1, 0)},
       1,
       {"old"}},
      {"a requested rank beats a kept one",
       {C("old", 1, -1, 0), C("asks0", 2, 0)},
       2,
       {"asks0", "old"}},
      {"a shrunk round: old rank 2 of 3 becomes what is free",
       {C("x", 1, -1, 0), C("z", 3, -1, 2)},
       2,
       {"x", "z"}},
      {"max nodes cuts the latest joiners", {C("a", 1), C("b", 2), C("c", 3)}, 2, {"a", "b"}},
      {"ties in join order by node id", {C("b", 1), C("a", 1)}, 2, {"a", "b"}},
      {"nobody", {}, 4, {}},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(AssignNodeRanks(r.candidates, r.max_nodes), r.want) << r.name;
  }
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
