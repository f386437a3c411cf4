#include "rendezvous/server_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::rendezvous {
namespace {

using ::testing::HasSubstr;

TEST(ServerMetricsTest, GaugesSayWhatTheRunIs) {
  MetricRegistry m;
  DeclareServerMetrics(m);
  RunStatus s;
  s.phase = Phase::kRunning;
  s.round = 4;
  s.members.resize(3);
  s.waiting = {"n4"};
  s.restart_count = 1;
  s.max_restarts = 3;
  SetServerGauges(s, 3, m);
  EXPECT_EQ(m.Value("fabric_rendezvous_round"), 4);
  EXPECT_EQ(m.Value("fabric_rendezvous_members"), 3);
  EXPECT_EQ(m.Value("fabric_rendezvous_waiting_nodes"), 1);
  EXPECT_EQ(m.Value("fabric_rendezvous_connected_nodes"), 3);
  EXPECT_EQ(m.Value("fabric_rendezvous_restarts_left"), 2);
  EXPECT_EQ(m.Value("fabric_rendezvous_phase", {{"phase", PhaseName(Phase::kRunning)}}), 1);
  EXPECT_EQ(m.Value("fabric_rendezvous_phase", {{"phase", PhaseName(Phase::kForming)}}), 0);
  s.phase = Phase::kFailed;
  s.restart_count = 5;
  SetServerGauges(s, 0, m);
  EXPECT_EQ(m.Value("fabric_rendezvous_restarts_left"), 0) << "never negative";
  EXPECT_THAT(m.Render(), HasSubstr("fabric_rendezvous_phase{phase=\"" +
                                    std::string(PhaseName(Phase::kFailed)) + "\"} 1"));
}

}  // namespace
}  // namespace fabric::rendezvous
