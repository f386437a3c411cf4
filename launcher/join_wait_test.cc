#include "launcher/join_wait.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

JoinWait Base() {
  JoinWait w;
  w.server_address = "10.0.0.1:29400";
  w.joined = 1;
  w.min_nodes = w.max_nodes = 2;
  w.waited = absl::Milliseconds(2100);
  w.join_timeout = absl::Seconds(600);
  return w;
}

TEST(JoinWaitTest, SaysJoinedOfNeededWhoIsMissingAndTimeLeft) {
  JoinWait w = Base();
  w.missing = {"node rank 1"};
  EXPECT_EQ(FormatJoinWait(w),
            "waiting for nodes to join the rendezvous at 10.0.0.1:29400: 1 of 2 joined; missing "
            "node rank 1; 9m57s of --join-timeout 10m left");
}

TEST(JoinWaitTest, CountsWhenWhoIsNotKnown) {
  JoinWait w = Base();
  w.min_nodes = 3;
  w.max_nodes = 4;
  EXPECT_EQ(FormatJoinWait(w),
            "waiting for nodes to join the rendezvous at 10.0.0.1:29400: 1 of 3 (at most 4) "
            "joined; missing 2 (which node ranks is not known yet); 9m57s of --join-timeout 10m "
            "left");
}

TEST(JoinWaitTest, EnoughNodesWaitForTheLastCall) {
  JoinWait w = Base();
  w.joined = 2;
  w.max_nodes = 3;
  w.waited = absl::Seconds(700);
  EXPECT_EQ(FormatJoinWait(w),
            "waiting for nodes to join the rendezvous at 10.0.0.1:29400: 2 of 2 (at most 3) "
            "joined; the round completes at the end of its last-call window; 0 of "
            "--join-timeout 10m left");
}

TEST(JoinWaitTest, SaysWhyWhenTheStatusIsUnknown) {
  JoinWait w = Base();
  w.unknown_why = "deadline exceeded";
  EXPECT_EQ(FormatJoinWait(w),
            "waiting for nodes to join the rendezvous at 10.0.0.1:29400: how many joined is not "
            "known (deadline exceeded); 9m57s of --join-timeout 10m left");
}

TEST(MissingNodesTest, FirstJoinWithFixedRanksNamesEveryOtherRank) {
  EXPECT_THAT(MissingNodes({"me"}, {}, "me", 0, 3, 3), ElementsAre("node rank 1", "node rank 2"));
  EXPECT_THAT(MissingNodes({}, {}, "me", 2, 3, 3), ElementsAre("node rank 0", "node rank 1"));
}

TEST(MissingNodesTest, UnknownWithoutRanksOrWithOthersIn) {
  EXPECT_THAT(MissingNodes({"me"}, {}, "me", std::nullopt, 2, 2), IsEmpty());
  EXPECT_THAT(MissingNodes({"me", "b"}, {}, "me", 0, 3, 3), IsEmpty());
  EXPECT_THAT(MissingNodes({"me"}, {}, "me", 0, 1, 3), IsEmpty()) << "elastic: no fixed set";
}

TEST(MissingNodesTest, AfterARoundNamesThePreviousMembersNotBack) {
  EXPECT_THAT(MissingNodes({"me", "b"}, {{"me", 0}, {"b", 1}, {"c", 2}, {"a", 3}}, "me", 0, 4, 4),
              ElementsAre("node rank 2 (c)", "node rank 3 (a)"));
  EXPECT_THAT(MissingNodes({"me", "b"}, {{"me", 0}, {"b", 1}}, "me", 0, 2, 2), IsEmpty());
}

}  // namespace
}  // namespace fabric::launcher
