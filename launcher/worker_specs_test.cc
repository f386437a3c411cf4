// PlanWorkers without processes: what every worker and spare of a round would be started
// with, and which files the agent must make for them.
#include "launcher/worker_specs.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::map<std::string, std::string> Env(const SpawnSpec& s) {
  std::map<std::string, std::string> m;
  for (const std::string& kv : s.env) {
    const size_t eq = kv.find('=');
    EXPECT_EQ(m.count(kv.substr(0, eq)), 0u) << "duplicate " << kv;
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

LaunchOptions TwoDevices() {
  LaunchOptions o;
  o.devices = 2;
  o.exec_argv = {"./train", "--steps", "5"};
  return o;
}

NodePlacement NodeOneOfTwo() {
  NodePlacement plan;
  plan.run_id = "job";
  plan.restart_count = 3;
  plan.node_rank = 1;
  plan.num_nodes = 2;
  plan.global_rank_base = 2;
  plan.local_world_size = 2;
  plan.world_size = 4;
  plan.master_addr = "10.0.0.1";
  plan.master_port = 29500;
  return plan;
}

const AttemptDirs kDirs{"/run/agent", "/run/agent"};

TEST(PlanWorkersTest, EveryWorkerHasItsRankEnvironmentAndFilesNamed) {
  const AttemptSpecs specs = PlanWorkers(TwoDevices(), NodeOneOfTwo(), kDirs, {{"HOME", "/h"}});
  ASSERT_EQ(specs.workers.size(), 2u);
  EXPECT_THAT(specs.spares, IsEmpty());
  for (int local = 0; local < 2; ++local) {
    const ProcessSpec& w = specs.workers[local];
    const int rank = 2 + local;
    EXPECT_EQ(w.global_rank, rank);
    EXPECT_EQ(w.local_rank, local);
    EXPECT_FALSE(w.spare);
    EXPECT_EQ(w.spawn.name, "rank " + std::to_string(rank));
    EXPECT_THAT(w.spawn.argv, ElementsAre("./train", "--steps", "5"));
    EXPECT_EQ(w.output_prefix, "[node 1 rank " + std::to_string(rank) + "]: ");
    EXPECT_TRUE(w.to_console);
    EXPECT_EQ(w.stdout_log, "");  // no --log-dir
    EXPECT_EQ(w.error_file, "/run/agent/attempt_3_rank_" + std::to_string(rank) + ".error.json");
    EXPECT_EQ(w.heartbeat_file, "/run/agent/attempt_3_rank_" + std::to_string(local) + ".beat");
    EXPECT_EQ(w.fifo, "");  // no --recovery in-place
    EXPECT_THAT(w.scratch_files, ElementsAre(w.error_file));
    std::map<std::string, std::string> env = Env(w.spawn);
    EXPECT_EQ(env["RANK"], std::to_string(rank));
    EXPECT_EQ(env["LOCAL_RANK"], std::to_string(local));
    EXPECT_EQ(env["WORLD_SIZE"], "4");
    EXPECT_EQ(env["GROUP_RANK"], "1");
    EXPECT_EQ(env["MASTER_ADDR"], "10.0.0.1");
    EXPECT_EQ(env["MASTER_PORT"], "29500");
    EXPECT_EQ(env["TORCHELASTIC_RESTART_COUNT"], "3");
    EXPECT_EQ(env["TORCHELASTIC_ERROR_FILE"], w.error_file);
    EXPECT_EQ(env["FABRIC_HEARTBEAT_FILE"], w.heartbeat_file);
    EXPECT_EQ(env["TORCHELASTIC_TIMER_FILE"], "/run/agent/timer.fifo");
    EXPECT_EQ(env["TORCHELASTIC_ENABLE_FILE_TIMER"], "1");
    EXPECT_EQ(env["PYTHONPATH"], "/run/agent");
    EXPECT_EQ(env["HOME"], "/h");  // inherited
    EXPECT_EQ(env.count("FABRIC_CONTROL_FIFO"), 0u);
  }
}

TEST(PlanWorkersTest, ALogDirHoldsTheLogsAndErrorFilesAndKeepsThem) {
  LaunchOptions o = TwoDevices();
  o.log_dir = "/logs";
  const AttemptSpecs specs =
      PlanWorkers(o, NodeOneOfTwo(), AttemptDirs{"/run/agent", "/logs/job/attempt_3"}, {});
  const ProcessSpec& w = specs.workers[1];
  EXPECT_EQ(w.stdout_log, "/logs/job/attempt_3/rank_3.stdout.log");
  EXPECT_EQ(w.stderr_log, "/logs/job/attempt_3/rank_3.stderr.log");
  EXPECT_EQ(w.error_file, "/logs/job/attempt_3/rank_3.error.json");
  EXPECT_THAT(w.scratch_files, IsEmpty());  // the user's files are not removed
  EXPECT_EQ(w.heartbeat_file, "/run/agent/attempt_3_rank_1.beat");  // still private
}

TEST(PlanWorkersTest, InPlaceGivesEachWorkerAControlFifoAndSparesNoRank) {
  LaunchOptions o = TwoDevices();
  o.recovery_in_place = true;
  o.spares = 1;
  o.log_dir = "/logs";
  const AttemptSpecs specs =
      PlanWorkers(o, NodeOneOfTwo(), AttemptDirs{"/run/agent", "/logs/job/attempt_3"}, {});
  for (int local = 0; local < 2; ++local) {
    const ProcessSpec& w = specs.workers[local];
    EXPECT_EQ(w.fifo, "/run/agent/control_3_" + std::to_string(local));
    EXPECT_EQ(Env(w.spawn)["FABRIC_CONTROL_FIFO"], w.fifo);
    EXPECT_THAT(w.scratch_files, Contains(w.fifo));
  }
  ASSERT_EQ(specs.spares.size(), 1u);
  const ProcessSpec& s = specs.spares[0];
  EXPECT_TRUE(s.spare);
  EXPECT_EQ(s.spawn.name, "spare 0");
  EXPECT_EQ(s.output_prefix, "[spare 0]: ");
  EXPECT_EQ(s.fifo, "/run/agent/spare_3_0");
  EXPECT_EQ(s.stderr_log, "/logs/job/attempt_3/spare_0.stderr.log");
  EXPECT_EQ(s.error_file, "");
  EXPECT_EQ(s.heartbeat_file, "");  // it gets the worker's when it takes one over
  std::map<std::string, std::string> env = Env(s.spawn);
  EXPECT_EQ(env["FABRIC_SPARE_FIFO"], s.fifo);
  for (const char* k :
       {"RANK", "LOCAL_RANK", "GROUP_RANK", "ROLE_RANK", "TORCHELASTIC_ERROR_FILE"}) {
    EXPECT_EQ(env.count(k), 0u) << k;
  }
  EXPECT_EQ(env["WORLD_SIZE"], "4");
}

TEST(PlanWorkersTest, TheConsoleFilterPicksRanksAndLocalRanks) {
  LaunchOptions o = TwoDevices();
  o.console.all = false;
  o.console.ranks = {3};
  AttemptSpecs specs = PlanWorkers(o, NodeOneOfTwo(), kDirs, {});
  EXPECT_FALSE(specs.workers[0].to_console);
  EXPECT_TRUE(specs.workers[1].to_console);
  o.console = ConsoleFilter{};
  o.console.local_ranks = std::vector<int>{0};
  specs = PlanWorkers(o, NodeOneOfTwo(), kDirs, {});
  EXPECT_TRUE(specs.workers[0].to_console);
  EXPECT_FALSE(specs.workers[1].to_console);
  o.console.quiet = true;
  specs = PlanWorkers(o, NodeOneOfTwo(), kDirs, {});
  EXPECT_FALSE(specs.workers[0].to_console);
}

TEST(PlanWorkersTest, ThePlanAloneDecidesHowManyWorkers) {
  NodePlacement plan = NodeOneOfTwo();
  plan.local_world_size = 3;  // the rendezvous gave this node 3
  EXPECT_EQ(PlanWorkers(TwoDevices(), plan, kDirs, {}).workers.size(), 3u);
}

}  // namespace
}  // namespace fabric::launcher
