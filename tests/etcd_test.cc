// --rdzv-backend etcd with real processes on loopback: a real etcd cluster (1 or 3
// members, rendezvous/etcd_test_cluster.h), real fabric-run agents, real workers (an
// unmodified PyTorch DDP trainer, or a shell). Node 0 is lost, an etcd member is lost,
// quorum is lost for longer and shorter than --rdzv-grace, and bad input.
#include <signal.h>
#include <sys/types.h>

#include <dirent.h>
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/test_ca.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rendezvous/etcd_client.h"
#include "rendezvous/etcd_test_cluster.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using rendezvous::EtcdTestCluster;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<pid_t> PidsIn(const std::string& dir, const std::string& prefix) {
  std::vector<pid_t> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    int pid = 0;
    if (absl::SimpleAtoi(ReadFile(dir + "/" + name), &pid) && pid > 0) out.push_back(pid);
  }
  closedir(d);
  return out;
}

int CountLines(const std::string& path) {
  const std::vector<std::string> lines = Lines(ReadFile(path));
  return static_cast<int>(
      std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return !l.empty(); }));
}

class EtcdJobTest : public ::testing::Test {
 protected:
  void StartCluster(int members) {
    absl::StatusOr<std::unique_ptr<EtcdTestCluster>> c = EtcdTestCluster::Start(members);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = *std::move(c);
  }
  std::string Endpoints() const { return absl::StrJoin(cluster_->endpoints(), ","); }
  std::vector<std::string> Etcd(const std::string& run_id, const std::string& nodes) const {
    return {"--rdzv-backend", "etcd", "--rdzv-endpoint",     Endpoints(), "--rdzv-id", run_id,
            "--num-nodes",    nodes,  "--keepalive-timeout", "2s"};
  }
  // The keys left under the run's prefix.
  std::vector<std::string> KeysOf(const std::string& run_id) {
    rendezvous::EtcdOptions o;
    o.endpoints = cluster_->endpoints();
    auto etcd = rendezvous::EtcdClient::Create(o);
    EXPECT_TRUE(etcd.ok());
    auto range = (*etcd)->GetPrefix("/fabric-run/" + run_id + "/");
    EXPECT_TRUE(range.ok()) << range.status();
    std::vector<std::string> keys;
    if (range.ok()) {
      for (const auto& kv : range->kvs) keys.push_back(kv.key);
    }
    return keys;
  }
  std::unique_ptr<EtcdTestCluster> cluster_;
};

// 3 nodes x 2 workers, --num-nodes 2:3, a 3-member etcd: node 0's agent and workers are
// SIGKILLed mid-training; the two others go on as a job of 4 ranks, rank 0 on one of
// them, train to the end and exit 0; nothing is left running, no node key is left. Twice:
// workers spawned, and forked by each node's --preload torch zygote (the parameter).
class EtcdPythonJobTest : public EtcdJobTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(EtcdPythonJobTest, LosingNodeZeroMidTrainingTheSurvivorsFinishWithANewRankZero) {
  const std::string python = VenvPython();
  if (python.empty()) GTEST_SKIP() << "no .venv python (FABRIC_VENV_PYTHON)";
  StartCluster(3);
  const std::string dir = NewTempDir("node0");
  std::vector<std::string> args = Etcd("node0-loss", "2:3");
  if (!GetParam().empty()) args.insert(args.end(), {"--preload", GetParam()});
  for (const char* a : {"--devices", "2", "--python"}) args.push_back(a);
  args.push_back(python);
  args.push_back(Runfile("tests/python/elastic_train.py"));
  std::vector<std::unique_ptr<FabricRun>> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(std::make_unique<FabricRun>(
        args, std::map<std::string, std::string>{{"PID_DIR", dir}, {"STEPS", "250"}}));
  }
  // Rank 0 prints the steps: its agent is node 0.
  FabricRun* node0 = nullptr;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (node0 == nullptr && absl::Now() < deadline) {
    for (auto& a : agents) {
      if (a->out().find("training step 20") != std::string::npos) node0 = a.get();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(node0, nullptr) << agents[0]->out() << agents[0]->err();
  EXPECT_THAT(node0->out(), HasSubstr("[node 0 rank 0]"));
  const pid_t killed = node0->pid();
  std::vector<pid_t> node0_workers = PidsIn(dir, absl::StrCat("worker_", killed, "_"));
  ASSERT_EQ(node0_workers.size(), 2u);
  ASSERT_EQ(kill(killed, SIGKILL), 0);
  for (pid_t w : node0_workers) kill(w, SIGKILL);
  ASSERT_TRUE(node0->Wait(absl::Seconds(10)).has_value());

  std::string final_line;
  for (auto& a : agents) {
    if (a.get() == node0) continue;
    std::optional<int> rc = a->Wait(absl::Seconds(150));
    ASSERT_TRUE(rc.has_value()) << a->err();
    EXPECT_EQ(*rc, 0) << a->out() << a->err();
    for (const std::string& line : Lines(a->out())) {
      if (line.find("final loss") != std::string::npos) final_line = line;
    }
    // The round change names the lost node (its lease expired), once.
    EXPECT_THAT(a->err(), HasSubstr("lost")) << a->err();
    EXPECT_THAT(a->err(), Not(HasSubstr("spawning Python workers normally")));  // --preload
  }
  ASSERT_FALSE(final_line.empty());
  EXPECT_THAT(final_line, HasSubstr("world 4"));
  EXPECT_THAT(final_line, Not(HasSubstr(absl::StrCat("agent ", killed))));  // a new rank-0 host
  // The final loss is a number well below the start (~14).
  std::vector<std::string> words = absl::StrSplit(final_line, ' ');
  auto loss_at = std::find(words.begin(), words.end(), "loss");
  ASSERT_NE(loss_at, words.end());
  double loss = 99;
  ASSERT_TRUE(absl::SimpleAtod(*(loss_at + 1), &loss)) << final_line;
  EXPECT_LT(loss, 1.0);
  for (pid_t w : PidsIn(dir, "worker_")) EXPECT_TRUE(WaitGone(w, absl::Seconds(10))) << w;
  // Only the finished record stays (on a lease of its own); every node key went with
  // its agent's lease.
  EXPECT_THAT(KeysOf("node0-loss"), ::testing::ElementsAre("/fabric-run/node0-loss/round"));
}

INSTANTIATE_TEST_SUITE_P(SpawnedAndPreloaded, EtcdPythonJobTest, ::testing::Values("", "torch"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param.empty() ? std::string("Spawned") : "Preload_" + p.param;
                         });

// A worker that records each start ($PID_DIR/starts) and runs `seconds`.
std::vector<std::string> SleepWorker(const std::string& dir, int seconds) {
  return {"/bin/sh", "-c",
          absl::StrCat("echo $FABRIC_ROUND >> ", dir, "/starts; echo $$ > ", dir,
                       "/worker_${PPID}_${LOCAL_RANK}.pid; sleep ", seconds)};
}

TEST_F(EtcdJobTest, LosingOneOfThreeEtcdMembersDisturbsNothing) {
  StartCluster(3);
  const std::string dir = NewTempDir("member");
  std::vector<std::string> args = Etcd("member-loss", "2");
  for (const std::string& a : SleepWorker(dir, 6)) args.push_back(a);
  FabricRun a(args), b(args);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (CountLines(dir + "/starts") < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(CountLines(dir + "/starts"), 2);
  cluster_->Kill(0);  // the member every agent talks to first
  std::optional<int> ra = a.Wait(absl::Seconds(40)), rb = b.Wait(absl::Seconds(40));
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(*ra, 0) << a.err();
  EXPECT_EQ(*rb, 0) << b.err();
  EXPECT_EQ(CountLines(dir + "/starts"), 2);  // no restart
  EXPECT_THAT(KeysOf("member-loss"), ::testing::ElementsAre("/fabric-run/member-loss/round"));
}

// A hung agent (SIGSTOP) is lost when its lease expires: the others go on without it
// (--num-nodes 2:3); woken, it finds itself out of the job, says so once, stops its
// worker and exits non-zero.
TEST_F(EtcdJobTest, AHungAgentIsLostAtItsLeaseAndTheOthersGoOn) {
  StartCluster(1);
  const std::string dir = NewTempDir("hung");
  std::vector<std::string> args = Etcd("hung-agent", "2:3");
  std::vector<std::string> short_job = args, long_job = args;
  for (const std::string& a : SleepWorker(dir, 8)) short_job.push_back(a);
  for (const std::string& a : SleepWorker(dir, 120)) long_job.push_back(a);
  FabricRun a(short_job), b(short_job), c(long_job);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (CountLines(dir + "/starts") < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(CountLines(dir + "/starts"), 3) << a.err() << b.err() << c.err();
  const std::vector<pid_t> c_workers = PidsIn(dir, absl::StrCat("worker_", c.pid(), "_"));
  ASSERT_EQ(c_workers.size(), 1u);
  ASSERT_EQ(kill(c.pid(), SIGSTOP), 0);
  // The survivors' second round starts once c's lease (2 s) is gone.
  while (CountLines(dir + "/starts") < 5 && absl::Now() < deadline + absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(CountLines(dir + "/starts"), 5) << a.err() << b.err();
  ASSERT_EQ(kill(c.pid(), SIGCONT), 0);
  std::optional<int> rc = c.Wait(absl::Seconds(30));
  ASSERT_TRUE(rc.has_value());
  EXPECT_NE(*rc, 0);
  EXPECT_THAT(c.err(), HasSubstr("this node's etcd lease expired"));
  EXPECT_TRUE(WaitGone(c_workers[0], absl::Seconds(10)));
  std::optional<int> ra = a.Wait(absl::Seconds(60)), rb = b.Wait(absl::Seconds(60));
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(*ra, 0) << a.err();
  EXPECT_EQ(*rb, 0) << b.err();
  EXPECT_THAT(a.err() + b.err(), HasSubstr("lease expired"));  // the round change names it
}

TEST_F(EtcdJobTest, QuorumLostBeyondTheGraceStopsEveryAgentWithOneLine) {
  StartCluster(3);
  const std::string dir = NewTempDir("grace");
  std::vector<std::string> args = Etcd("quorum-gone", "2");
  for (const char* s : {"--rdzv-grace", "4s"}) args.push_back(s);
  for (const std::string& a : SleepWorker(dir, 60)) args.push_back(a);
  FabricRun a(args), b(args);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (PidsIn(dir, "worker_").size() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(PidsIn(dir, "worker_").size(), 2u);
  for (int m = 0; m < 3; ++m) cluster_->Kill(m);
  const absl::Time killed = absl::Now();
  std::optional<int> ra = a.Wait(absl::Seconds(30)), rb = b.Wait(absl::Seconds(30));
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  const absl::Duration took = absl::Now() - killed;
  EXPECT_NE(*ra, 0);
  EXPECT_NE(*rb, 0);
  EXPECT_GE(took, absl::Seconds(4));  // the workers ran through the grace
  for (FabricRun* r : {&a, &b}) {
    EXPECT_THAT(r->err(), HasSubstr("(--rdzv-grace 4s): it lost quorum or is unreachable"));
    const std::string err = r->err();
    size_t n = 0;
    for (size_t at = err.find("--rdzv-grace 4s)"); at != std::string::npos;
         at = err.find("--rdzv-grace 4s)", at + 1)) {
      ++n;
    }
    EXPECT_EQ(n, 1u) << err;  // said once
  }
  for (pid_t w : PidsIn(dir, "worker_")) EXPECT_TRUE(WaitGone(w, absl::Seconds(10))) << w;
}

TEST_F(EtcdJobTest, QuorumBackWithinTheGraceTheJobGoesOn) {
  StartCluster(3);
  const std::string dir = NewTempDir("back");
  std::vector<std::string> args = Etcd("quorum-back", "2");
  for (const char* s : {"--rdzv-grace", "40s"}) args.push_back(s);
  for (const std::string& a : SleepWorker(dir, 10)) args.push_back(a);
  FabricRun a(args), b(args);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (CountLines(dir + "/starts") < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(CountLines(dir + "/starts"), 2);
  for (int m = 0; m < 3; ++m) cluster_->Kill(m);
  absl::SleepFor(absl::Seconds(3));
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(cluster_->Restart(m).ok());
  std::optional<int> ra = a.Wait(absl::Seconds(60)), rb = b.Wait(absl::Seconds(60));
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(*ra, 0) << a.err();
  EXPECT_EQ(*rb, 0) << b.err();
  EXPECT_EQ(CountLines(dir + "/starts"), 2);  // no restart
  EXPECT_THAT(a.err() + b.err(), HasSubstr("answers again"));
}

// A worker fails while etcd has no quorum: its report is retried until etcd answers
// again (within the grace), then every node restarts and the job finishes.
TEST_F(EtcdJobTest, AFailureDuringAnOutageIsReportedOnceEtcdIsBack) {
  StartCluster(3);
  const std::string dir = NewTempDir("outage");
  std::vector<std::string> args = Etcd("fail-in-outage", "2");
  for (const char* s : {"--max-restarts", "1", "--rdzv-grace", "40s", "/bin/sh", "-c"}) {
    args.push_back(s);
  }
  args.push_back(absl::StrCat("echo $FABRIC_ROUND $RANK >> ", dir,
                              "/starts; [ $FABRIC_ROUND = 1 ] || exit 0; [ $RANK = 1 ] && { "
                              "sleep 2; exit 7; }; sleep 60"));
  FabricRun a(args), b(args);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (CountLines(dir + "/starts") < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(CountLines(dir + "/starts"), 2);
  for (int m = 0; m < 3; ++m) cluster_->Kill(m);
  absl::SleepFor(absl::Seconds(5));           // rank 1 fails meanwhile
  EXPECT_EQ(CountLines(dir + "/starts"), 2);  // nothing could restart without etcd
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(cluster_->Restart(m).ok());
  std::optional<int> ra = a.Wait(absl::Seconds(60)), rb = b.Wait(absl::Seconds(60));
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(*ra, 0) << a.err();
  EXPECT_EQ(*rb, 0) << b.err();
  const std::string starts = ReadFile(dir + "/starts");
  EXPECT_THAT(starts, HasSubstr("2 0"));
  EXPECT_THAT(starts, HasSubstr("2 1"));
}

TEST_F(EtcdJobTest, AWorkerFailureRestartsEveryNodeThroughEtcd) {
  StartCluster(1);
  const std::string dir = NewTempDir("fail");
  std::vector<std::string> args = Etcd("worker-fails", "2");
  for (const char* s : {"--max-restarts", "1", "/bin/sh", "-c"}) args.push_back(s);
  // Round 1: rank 3 fails; round 2: everyone succeeds.
  args.push_back(absl::StrCat("echo $FABRIC_ROUND $RANK $TORCHELASTIC_RESTART_COUNT >> ", dir,
                              "/starts; [ $FABRIC_ROUND = 1 ] && [ $RANK = 1 ] && exit 7; exit 0"));
  FabricRun a(args), b(args);
  std::optional<int> ra = a.Wait(absl::Seconds(60)), rb = b.Wait(absl::Seconds(60));
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(*ra, 0) << a.err();
  EXPECT_EQ(*rb, 0) << b.err();
  const std::string starts = ReadFile(dir + "/starts");
  EXPECT_THAT(starts, HasSubstr("1 1 0"));  // the failing rank ran in round 1
  EXPECT_THAT(starts, HasSubstr("2 0 1"));
  EXPECT_THAT(starts, HasSubstr("2 1 1"));
  // Rank 0 may not have started in round 1 (the round changed before it spawned); no
  // third round either way.
  EXPECT_THAT(starts, Not(HasSubstr("3 ")));
  EXPECT_LE(CountLines(dir + "/starts"), 4);

  // The budget spent: both nodes fail with the same summary naming the root cause.
  std::vector<std::string> again = Etcd("worker-fails-2", "2");
  for (const char* s : {"/bin/sh", "-c", "[ $RANK = 1 ] && exit 7; sleep 30"}) again.push_back(s);
  FabricRun c(again), d(again);
  std::optional<int> rc = c.Wait(absl::Seconds(60)), rd = d.Wait(absl::Seconds(60));
  ASSERT_TRUE(rc.has_value() && rd.has_value());
  EXPECT_EQ(*rc, 7);
  EXPECT_EQ(*rd, 7);
  EXPECT_THAT(c.err(), HasSubstr("root cause: rank 1"));
  EXPECT_THAT(d.err(), HasSubstr("root cause: rank 1"));
}

TEST_F(EtcdJobTest, BadInputIsOneLineEach) {
  StartCluster(1);
  // An unreachable endpoint.
  const int port = FreePort();
  FabricRun unreachable({"--rdzv-backend", "etcd", "--rdzv-endpoint",
                         absl::StrCat("127.0.0.1:", port), "--rdzv-id", "x", "--num-nodes", "2",
                         "/bin/true"});
  ASSERT_EQ(unreachable.Wait(absl::Seconds(30)), std::optional<int>(1));
  EXPECT_THAT(unreachable.err(), HasSubstr(absl::StrCat("cannot reach etcd at 127.0.0.1:", port)));
  EXPECT_EQ(Lines(unreachable.err()).size(), 1u) << unreachable.err();
  // A run id already finished.
  std::vector<std::string> once = Etcd("done-once", "1");
  once.push_back("/bin/true");
  FabricRun first(once);
  ASSERT_EQ(first.Wait(absl::Seconds(30)), std::optional<int>(0)) << first.err();
  FabricRun second(once);
  ASSERT_EQ(second.Wait(absl::Seconds(30)), std::optional<int>(1));
  EXPECT_THAT(second.err(), HasSubstr("run 'done-once' already succeeded"));
  EXPECT_THAT(second.err(), HasSubstr("new --rdzv-id"));
  EXPECT_EQ(Lines(second.err()).size(), 1u) << second.err();
  // Different settings from the run's.
  std::vector<std::string> waiting = Etcd("settings", "2");
  waiting.push_back("/bin/true");
  FabricRun a(waiting);
  std::vector<std::string> other = Etcd("settings", "2:3");
  other.push_back("/bin/true");
  absl::SleepFor(absl::Milliseconds(500));
  FabricRun b(other);
  ASSERT_EQ(b.Wait(absl::Seconds(30)), std::optional<int>(1));
  EXPECT_THAT(b.err(), HasSubstr("give every node the same settings"));
  kill(a.pid(), SIGTERM);
  EXPECT_TRUE(a.Wait(absl::Seconds(30)).has_value());
}

// etcd serving TLS: the right CA (torchrun's --rdzv-conf spelling) runs the job; a CA
// that did not sign etcd's certificate is one line naming the TLS files.
TEST(EtcdTlsTest, RightCaRunsTheJobAndAWrongCaIsOneLine) {
  absl::StatusOr<TestCa> ca = TestCa::Create();
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<TestCert> server = ca->Issue("etcd", {"IP:127.0.0.1", "DNS:localhost"});
  ASSERT_TRUE(server.ok()) << server.status();
  rendezvous::TlsConfig client;
  client.ca_pem = ReadFile(ca->ca_cert());
  absl::StatusOr<std::unique_ptr<EtcdTestCluster>> cluster =
      EtcdTestCluster::StartTls(1, server->cert, server->key, client);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::string endpoint = (*cluster)->endpoints().front();
  FabricRun ok({"--rdzv-backend", "etcd", "--rdzv-endpoint", endpoint, "--rdzv-id", "tls-job",
                "--num-nodes", "1", "--devices", "2", "--rdzv-conf",
                absl::StrCat("protocol=https,cacert=", ca->ca_cert()), "/bin/sh", "-c",
                "echo rank $RANK of $WORLD_SIZE"});
  ASSERT_EQ(ok.Wait(absl::Seconds(30)), std::optional<int>(0)) << ok.err();
  EXPECT_THAT(ok.out(), HasSubstr("rank 1 of 2"));

  absl::StatusOr<TestCa> other = TestCa::Create();
  ASSERT_TRUE(other.ok()) << other.status();
  FabricRun wrong({"--rdzv-backend", "etcd", "--rdzv-endpoint", endpoint, "--rdzv-id", "tls-job-2",
                   "--rdzv-conf", absl::StrCat("protocol=https,cacert=", other->ca_cert()),
                   "/bin/true"});
  ASSERT_EQ(wrong.Wait(absl::Seconds(30)), std::optional<int>(1));
  EXPECT_THAT(wrong.err(), HasSubstr("cannot reach etcd at " + endpoint));
  EXPECT_THAT(wrong.err(), HasSubstr("TLS files"));
  EXPECT_EQ(Lines(wrong.err()).size(), 1u) << wrong.err();
}

}  // namespace
}  // namespace fabric::testing
