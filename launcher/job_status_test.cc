#include "launcher/job_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

JobStatus Sample() {
  JobStatus s;
  s.run_id = "fabric-1-ab";
  s.backend = "local";
  s.hostname = "h1";
  s.agent_pid = 100;
  s.round = 2;
  s.attempt = 1;
  s.restarts_used = 1;
  s.max_restarts = 3;
  s.restarts_left = 2;
  s.recovery = "gang";
  s.world_size = 2;
  s.last_failure = "rank 1 (pid 7) exited with code 3";
  RankStatus a;
  a.global_rank = 0;
  a.node = "h1";
  a.pid = 101;
  a.state = RankState::kRunning;
  a.heartbeat_age_s = 0.25;
  a.step = 40;
  a.total_steps = 100;
  a.step_rate = 8;
  a.eta_s = 7.5;
  a.rss_bytes = 300u << 20;
  a.cpu_s = 1.5;
  RankStatus b;
  b.global_rank = 1;
  b.local_rank = 1;
  b.node = "h1";
  b.pid = 102;
  b.state = RankState::kExited;
  b.signal = "SIGKILL";
  s.ranks = {a, b};
  return s;
}

TEST(JobStatusTest, RoundTripsThroughJson) {
  const JobStatus s = Sample();
  absl::StatusOr<JobStatus> d = DecodeJobStatus(EncodeJobStatus(s));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->run_id, s.run_id);
  EXPECT_EQ(d->round, 2);
  EXPECT_EQ(d->restarts_left, 2);
  EXPECT_EQ(d->last_failure, s.last_failure);
  ASSERT_EQ(d->ranks.size(), 2u);
  EXPECT_EQ(d->ranks[0].pid, 101);
  EXPECT_EQ(d->ranks[0].step, 40u);
  EXPECT_EQ(d->ranks[0].total_steps, 100u);
  EXPECT_DOUBLE_EQ(*d->ranks[0].heartbeat_age_s, 0.25);
  EXPECT_EQ(d->ranks[0].rss_bytes, 300u << 20);
  EXPECT_EQ(d->ranks[1].state, RankState::kExited);
  EXPECT_EQ(d->ranks[1].signal, "SIGKILL");
  EXPECT_FALSE(d->ranks[1].exit_code.has_value());
  EXPECT_FALSE(d->ranks[1].step.has_value()) << "unknown stays null, not 0";
}

TEST(JobStatusTest, UnknownValuesAreNullInTheJson) {
  const std::string j = EncodeJobStatus(Sample());
  EXPECT_THAT(j, HasSubstr("\"step\":null"));
  EXPECT_THAT(j, HasSubstr("\"signal\":\"SIGKILL\""));
  JobStatus none = Sample();
  none.last_failure.clear();
  EXPECT_THAT(EncodeJobStatus(none), HasSubstr("\"last_failure\":null"));
}

TEST(JobStatusTest, RejectsWhatIsNotAStatus) {
  EXPECT_FALSE(DecodeJobStatus("").ok());
  EXPECT_FALSE(DecodeJobStatus("[1,2]").ok());
  EXPECT_FALSE(DecodeJobStatus("{\"run_id\": 5}").ok());
  std::string j = EncodeJobStatus(Sample());
  std::string bad_state = j;
  bad_state.replace(bad_state.find("\"running\""), 9, "\"dancing\"");
  EXPECT_THAT(DecodeJobStatus(bad_state).status().message(), HasSubstr("dancing"));
  std::string bad_type = j;
  bad_type.replace(bad_type.find("\"pid\":101"), 9, "\"pid\":\"x\"");
  EXPECT_FALSE(DecodeJobStatus(bad_type).ok());
}

TEST(JobStatusTest, FormatsOneRowARank) {
  const std::string t = FormatJobStatus(Sample());
  EXPECT_THAT(t, HasSubstr("run fabric-1-ab"));
  EXPECT_THAT(t, HasSubstr("restarts 1 used, 2 left (max 3)"));
  EXPECT_THAT(t, HasSubstr("last failure: rank 1 (pid 7) exited with code 3"));
  EXPECT_THAT(t, HasSubstr("40/100"));
  EXPECT_THAT(t, HasSubstr("exited(SIGKILL)"));
  EXPECT_THAT(t, HasSubstr("300M"));
  int lines = 0;
  for (char c : t) lines += c == '\n';
  EXPECT_EQ(lines, 3 + 1 + 2);  // two header lines, failure, column titles, two ranks
}

TEST(JobStatusTest, MergesTheNodesOfOneJob) {
  JobStatus n1 = Sample();
  n1.node_rank = 1;
  n1.num_nodes = 2;
  n1.hostname = "h2";
  n1.last_failure.clear();
  for (RankStatus& r : n1.ranks) r.global_rank += 2;
  JobStatus n0 = Sample();
  n0.num_nodes = 2;
  JobStatus job = MergeNodes({n1, n0});
  EXPECT_EQ(job.node_rank, 0);
  EXPECT_EQ(job.hostname, "h1");
  EXPECT_EQ(job.num_nodes, 2);
  EXPECT_EQ(job.last_failure, "rank 1 (pid 7) exited with code 3");
  ASSERT_EQ(job.ranks.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(job.ranks[i].global_rank, i);
}

TEST(JobStatusTest, PeersRoundTripAndANodeCountsOnce) {
  JobStatus self = Sample();
  self.num_nodes = 2;
  JobStatus peer = Sample();
  peer.node_rank = 1;
  peer.num_nodes = 2;
  for (RankStatus& r : peer.ranks) r.global_rank += 2;
  JobStatus stale_self = Sample();  // node 0 as a peer fetched it: older
  stale_self.ranks[0].pid = 999;
  self.peers = {peer, stale_self};
  absl::StatusOr<JobStatus> d = DecodeJobStatus(EncodeJobStatus(self));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->peers.size(), 2u);
  EXPECT_EQ(d->peers[0].node_rank, 1);
  EXPECT_FALSE(d->peers_pending);
  std::vector<JobStatus> nodes = {*d};
  for (const JobStatus& p : d->peers) nodes.push_back(p);
  JobStatus job = MergeNodes(nodes);
  ASSERT_EQ(job.ranks.size(), 4u) << "node 0 once, node 1 once";
  EXPECT_EQ(job.ranks[0].pid, 101) << "the first status of a node rank wins (the live one)";
  EXPECT_TRUE(job.peers.empty());
  JobStatus pending = Sample();
  pending.peers_pending = true;
  EXPECT_TRUE(DecodeJobStatus(EncodeJobStatus(pending))->peers_pending);
  EXPECT_THAT(EncodeJobStatus(Sample()), Not(HasSubstr("peers"))) << "one node: no peers key";
  // A peer's own peers are not accepted (one level only).
  JobStatus nested = Sample();
  JobStatus mid = Sample();
  mid.peers = {Sample()};
  nested.peers = {mid};
  EXPECT_FALSE(DecodeJobStatus(EncodeJobStatus(nested)).ok());
}

}  // namespace
}  // namespace fabric::launcher
