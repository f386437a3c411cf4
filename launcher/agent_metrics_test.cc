#include "launcher/agent_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RankStatus Rank(int g, RankState st) {
  RankStatus r;
  r.global_rank = g;
  r.state = st;
  r.heartbeat_age_s = 1.5;
  r.step = 10 + g;
  return r;
}

TEST(AgentMetricsTest, GaugesFollowTheSnapshotAndDropGoneRanks) {
  MetricRegistry m;
  DeclareAgentMetrics(m);
  JobStatus s;
  s.round = 3;
  s.restarts_left = 2;
  s.ranks = {Rank(0, RankState::kRunning), Rank(1, RankState::kHung), Rank(2, RankState::kExited),
             Rank(3, RankState::kReplaced)};
  SetAgentGauges(s, m);
  EXPECT_EQ(m.Value("fabric_workers_running"), 2);
  EXPECT_EQ(m.Value("fabric_round"), 3);
  EXPECT_EQ(m.Value("fabric_restarts_left"), 2);
  EXPECT_EQ(m.Value("fabric_rank_step", {{"rank", "1"}}), 11);
  s.ranks[0].step_rate = 2;
  s.ranks[0].eta_s = 45;  // the snapshot's ETA (launcher/progress.h), not recomputed here
  SetAgentGauges(s, m);
  EXPECT_EQ(m.Value("fabric_rank_steps_per_second", {{"rank", "0"}}), 2);
  EXPECT_EQ(m.Value("fabric_rank_eta_seconds", {{"rank", "0"}}), 45);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("fabric_rank_heartbeat_age_seconds{rank=\"0\"} 1.5"));
  EXPECT_THAT(text, Not(HasSubstr("rank=\"3\""))) << "a replaced process has no series";
  s.ranks = {Rank(0, RankState::kRunning)};
  SetAgentGauges(s, m);
  text = m.Render();
  EXPECT_THAT(text, Not(HasSubstr("rank=\"1\""))) << "the last snapshot's ranks are dropped";
  EXPECT_EQ(m.Value("fabric_workers_running"), 1);
}

TEST(AgentMetricsTest, CountersStartAtZeroAndCausesAreNamed) {
  MetricRegistry m;
  DeclareAgentMetrics(m);
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("fabric_attempts_total 0"));
  EXPECT_THAT(text, HasSubstr("# TYPE fabric_rendezvous_join_seconds histogram"));
  EXPECT_EQ(FailureCause(ExitStatus::Exited(3), false, false), "exit_code");
  EXPECT_EQ(FailureCause(ExitStatus::Signaled(9), false, false), "signal");
  EXPECT_EQ(FailureCause(ExitStatus::Signaled(9), false, true), "oom");
  EXPECT_EQ(FailureCause(ExitStatus::Signaled(6), true, false), "hang");
}

}  // namespace
}  // namespace fabric::launcher
