// `fabric-run status` and --metrics-port against real jobs: a 2 x 2 job of two agents on
// loopback, ranks SIGSTOPped (rank 0 included), and the lines for a job that does not exist,
// another user's socket and a stale one.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/job_status.h"
#include "rendezvous/etcd_test_cluster.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::fabric::launcher::DecodeJobStatus;
using ::fabric::launcher::JobStatus;
using ::fabric::launcher::RankState;
using ::testing::HasSubstr;
using ::testing::Not;

// A directory for the jobs' TMPDIR: short enough for a socket path (TEST_TMPDIR is not).
std::string ShortTmp() {
  char templ[] = "/tmp/fabric-status-test-XXXXXX";
  EXPECT_NE(mkdtemp(templ), nullptr);
  return templ;
}

struct Result {
  int code = -1;
  std::string out, err;
};

Result Status(const std::string& tmp, std::vector<std::string> args) {
  args.insert(args.begin(), "status");
  FabricRun run(args, {{"TMPDIR", tmp}});
  Result r;
  r.code = run.Wait(absl::Seconds(30)).value_or(-1);
  r.out = run.out();
  r.err = run.err();
  return r;
}

// GET http://127.0.0.1:port/path: the body ("" on any error).
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
    (void)!write(fd, req.data(), req.size());
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

// The port of "fabric-run: metrics at http://HOST:PORT/metrics" in `err`; 0 when absent.
int MetricsPort(const std::string& err) {
  const size_t at = err.find("metrics at http://");
  if (at == std::string::npos) return 0;
  const size_t colon = err.find(':', at + 18);
  const size_t slash = err.find("/metrics", colon);
  int port = 0;
  if (colon == std::string::npos || slash == std::string::npos ||
      !absl::SimpleAtoi(err.substr(colon + 1, slash - colon - 1), &port)) {
    return 0;
  }
  return port;
}

// A metric's value in Prometheus text (the unlabelled series or `name{labels}`); -1 if absent.
double MetricValue(const std::string& text, const std::string& series) {
  for (const std::string& line : Lines(text)) {
    if (line.rfind(series + " ", 0) == 0) {
      double v = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

class TwoByTwo : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = ShortTmp();
    helper_dir_ = NewTempDir("helper");
    const std::string port = absl::StrCat(FreePort());
    for (int node = 0; node < 2; ++node) {
      nodes_.push_back(std::make_unique<FabricRun>(
          std::vector<std::string>{"--devices",      "2",
                                   "--num-nodes",    "2",
                                   "--node-rank",    absl::StrCat(node),
                                   "--main-address", "127.0.0.1",
                                   "--main-port",    port,
                                   "--run-id",       "stjob",
                                   "--max-restarts", "3",
                                   "--metrics-port", "0",
                                   "--grace-period", "1s",
                                   HelperPath(),     "sleep"},
          std::map<std::string, std::string>{{"TMPDIR", tmp_}, {"HELPER_DIR", helper_dir_}}));
    }
    for (int rank = 0; rank < 4; ++rank) {
      pids_.push_back(WaitForPidFile(helper_dir_, "worker", rank));
      ASSERT_GT(pids_.back(), 0) << nodes_[0]->err() << nodes_[1]->err();
    }
  }
  void TearDown() override {
    for (pid_t p : pids_) {
      if (p > 0) kill(p, SIGCONT);
    }
    for (auto& n : nodes_) kill(n->pid(), SIGTERM);
    for (auto& n : nodes_) n->Wait(absl::Seconds(30));
    rmdir(tmp_.c_str());
  }
  absl::StatusOr<JobStatus> Json() {
    Result r = Status(tmp_, {"--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return DecodeJobStatus(r.out);
  }

  std::string tmp_, helper_dir_;
  std::vector<std::unique_ptr<FabricRun>> nodes_;
  std::vector<pid_t> pids_;
};

TEST_F(TwoByTwo, StatusShowsBothNodesRealPidsAndTheWorld) {
  absl::StatusOr<JobStatus> s = Json();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->run_id, "stjob");
  EXPECT_EQ(s->backend, "embedded");
  EXPECT_EQ(s->num_nodes, 2);
  EXPECT_EQ(s->world_size, 4);
  EXPECT_EQ(s->max_restarts, 3);
  EXPECT_EQ(s->restarts_left, 3);
  ASSERT_EQ(s->ranks.size(), 4u);
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_EQ(s->ranks[rank].global_rank, rank);
    EXPECT_EQ(s->ranks[rank].pid, pids_[rank]) << "rank " << rank;
    EXPECT_EQ(s->ranks[rank].state, RankState::kRunning);
    EXPECT_GT(s->ranks[rank].rss_bytes.value_or(0), 0u) << "the OS's count of its memory";
  }
  Result text = Status(tmp_, {});
  EXPECT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("run stjob"));
  EXPECT_THAT(text.out, HasSubstr(absl::StrCat(pids_[3])));
  Result named = Status(tmp_, {"stjob", "--json"});
  EXPECT_EQ(named.code, 0);
  Result other = Status(tmp_, {"nosuchjob"});
  EXPECT_EQ(other.code, 1);
  EXPECT_THAT(other.err, HasSubstr("no job with run id 'nosuchjob' runs here (running: stjob)"));
}

TEST_F(TwoByTwo, StatusAnswersWhileRanksAreStoppedRankZeroIncluded) {
  ASSERT_EQ(kill(pids_[0], SIGSTOP), 0);
  ASSERT_EQ(kill(pids_[3], SIGSTOP), 0);
  const absl::Time t0 = absl::Now();
  absl::StatusOr<JobStatus> s = Json();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));
  ASSERT_EQ(s->ranks.size(), 4u);
  EXPECT_EQ(s->ranks[0].pid, pids_[0]);
  EXPECT_EQ(s->ranks[0].state, RankState::kRunning) << "stopped is not exited";
}

TEST_F(TwoByTwo, PrometheusTextOfBothAgentsMatchesTheJob) {
  for (auto& n : nodes_) {
    const int port = MetricsPort(n->err());
    ASSERT_GT(port, 0) << n->err();
    const std::string m = HttpGet(port, "/metrics");
    EXPECT_EQ(MetricValue(m, "fabric_attempts_total"), 1) << m;
    EXPECT_EQ(MetricValue(m, "fabric_restarts_total"), 0);
    EXPECT_EQ(MetricValue(m, "fabric_workers_running"), 2);
    EXPECT_EQ(MetricValue(m, "fabric_restarts_left"), 3);
    EXPECT_EQ(HttpGet(port, "/status"), "try /metrics\n") << "no status over TCP";
  }
  // A worker killed: the job restarts (a new round on both nodes), the counters say so.
  ASSERT_EQ(kill(pids_[2], SIGKILL), 0);
  const int port0 = MetricsPort(nodes_[0]->err());
  std::string m;
  for (int i = 0; i < 300 && MetricValue(m, "fabric_restarts_total") < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    m = HttpGet(port0, "/metrics");
  }
  EXPECT_EQ(MetricValue(m, "fabric_restarts_total"), 1) << m;
  EXPECT_EQ(MetricValue(m, "fabric_attempts_total"), 2);
  EXPECT_EQ(MetricValue(m, "fabric_restarts_left"), 2);
  const int port1 = MetricsPort(nodes_[1]->err());
  std::string m1;
  for (int i = 0; i < 300 && MetricValue(m1, "fabric_worker_failures_total{cause=\"signal\"}") < 1;
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    m1 = HttpGet(port1, "/metrics");
  }
  EXPECT_EQ(MetricValue(m1, "fabric_worker_failures_total{cause=\"signal\"}"), 1) << m1;
  EXPECT_EQ(MetricValue(m, "fabric_worker_failures_total{cause=\"signal\"}"), -1)
      << "node 0's workers did not fail: no failure series there";
}

// Nodes on other machines: node 1's agent keeps its socket where this shell's status does
// not look (another TMPDIR: as another host), and the answer still covers its ranks, through
// the rendezvous; the same from node 1's side.
// A 2 x 2 job whose agents keep their sockets in two TMPDIRs; `backend(node)` gives
// each agent's rendezvous flags.
void CheckStatusAcrossHosts(const std::function<std::vector<std::string>(int)>& backend) {
  const std::string tmp0 = ShortTmp(), tmp1 = ShortTmp();
  const std::string helper_dir = NewTempDir("hosts");
  std::vector<std::unique_ptr<FabricRun>> nodes;
  for (int node = 0; node < 2; ++node) {
    std::vector<std::string> args = backend(node);
    for (const std::string& a :
         {std::string("--devices"), std::string("2"), std::string("--grace-period"),
          std::string("1s"), HelperPath(), std::string("sleep")}) {
      args.push_back(a);
    }
    nodes.push_back(std::make_unique<FabricRun>(
        args, std::map<std::string, std::string>{{"TMPDIR", node == 0 ? tmp0 : tmp1},
                                                 {"HELPER_DIR", helper_dir}}));
  }
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 4; ++rank) {
    pids.push_back(WaitForPidFile(helper_dir, "worker", rank));
    ASSERT_GT(pids.back(), 0) << nodes[0]->err() << nodes[1]->err();
  }
  for (const std::string& tmp : {tmp0, tmp1}) {
    JobStatus s;
    for (int i = 0; i < 50; ++i) {  // node statuses reach the rendezvous within ~2 s
      Result r = Status(tmp, {"--json"});
      ASSERT_EQ(r.code, 0) << r.err;
      absl::StatusOr<JobStatus> d = DecodeJobStatus(r.out);
      ASSERT_TRUE(d.ok()) << d.status() << r.out;
      s = *d;
      if (s.ranks.size() == 4) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_EQ(s.ranks.size(), 4u) << "from " << tmp;
    EXPECT_EQ(s.num_nodes, 2);
    for (int rank = 0; rank < 4; ++rank) {
      EXPECT_EQ(s.ranks[rank].global_rank, rank);
      EXPECT_EQ(s.ranks[rank].pid, pids[rank]) << "rank " << rank << " from " << tmp;
    }
  }
  // Not a vacuous pass: each TMPDIR holds one agent's directory only, so two of the four
  // ranks can only have come through the rendezvous.
  for (const std::string& tmp : {tmp0, tmp1}) {
    int agents = 0;
    if (DIR* d = opendir(tmp.c_str())) {
      while (dirent* e = readdir(d)) agents += std::string(e->d_name).rfind("fabric-run-", 0) == 0;
      closedir(d);
    }
    EXPECT_EQ(agents, 1) << tmp;
  }
  for (auto& n : nodes) kill(n->pid(), SIGTERM);
  for (auto& n : nodes) n->Wait(absl::Seconds(30));
  EXPECT_EQ(rmdir(tmp0.c_str()), 0);
  EXPECT_EQ(rmdir(tmp1.c_str()), 0);
}

TEST(AcrossHostsTest, StatusCoversANodeWhoseSocketIsElsewhere) {
  const std::string port = absl::StrCat(FreePort());
  CheckStatusAcrossHosts([&](int node) {
    return std::vector<std::string>{
        "--num-nodes", "2",           "--node-rank", absl::StrCat(node), "--main-address",
        "127.0.0.1",   "--main-port", port,          "--run-id",         "hostsjob"};
  });
}

// The same on --rdzv-backend etcd: the statuses go through etcd.
TEST(AcrossHostsTest, StatusCoversANodeWhoseSocketIsElsewhereOnEtcd) {
  absl::StatusOr<std::unique_ptr<rendezvous::EtcdTestCluster>> etcd =
      rendezvous::EtcdTestCluster::Start(1);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  const std::string endpoint = (*etcd)->endpoints().front();
  CheckStatusAcrossHosts([&](int node) {
    return std::vector<std::string>{
        "--num-nodes",     "2",      "--node-rank", absl::StrCat(node), "--rdzv-backend", "etcd",
        "--rdzv-endpoint", endpoint, "--rdzv-id",   "hostsjob-etcd"};
  });
}

// 2 nodes x 2 Python ranks that beat; rank 0 (node 0) and rank 3 (node 1) SIGSTOPped, as
// if hung in a collective: node 0's agent still answers for the whole job, and the
// stopped ranks' heartbeat ages grow, rank 3's through the rendezvous (published every
// 2 s), while the running ranks' stay small.
TEST(PythonTwoByTwoTest, StoppedRanksAgeOnBothNodes) {
  const std::string python = VenvPython();
  ASSERT_FALSE(python.empty());
  const std::string tmp0 = ShortTmp(), tmp1 = ShortTmp();
  const std::string helper_dir = NewTempDir("py2x2");
  const std::string stop = helper_dir + "/stop";
  const std::string port = absl::StrCat(FreePort());
  std::vector<std::unique_ptr<FabricRun>> nodes;
  for (int node = 0; node < 2; ++node) {
    nodes.push_back(std::make_unique<FabricRun>(
        std::vector<std::string>{"--devices", "2", "--num-nodes", "2", "--node-rank",
                                 absl::StrCat(node), "--main-address", "127.0.0.1", "--main-port",
                                 port, "--run-id", "py2x2", "--python", python,
                                 Runfile("tests/python/progress_loop.py")},
        std::map<std::string, std::string>{
            {"TMPDIR", node == 0 ? tmp0 : tmp1}, {"HELPER_DIR", helper_dir}, {"STOP_FILE", stop}}));
  }
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 4; ++rank) {
    pids.push_back(WaitForPidFile(helper_dir, "worker", rank));
    ASSERT_GT(pids.back(), 0) << nodes[0]->err() << nodes[1]->err();
  }
  auto json = [&] {
    Result r = Status(tmp0, {"--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    absl::StatusOr<JobStatus> s = DecodeJobStatus(r.out);
    EXPECT_TRUE(s.ok()) << s.status() << r.out;
    return s.ok() ? *s : JobStatus{};
  };
  JobStatus s;
  for (int i = 0; i < 100; ++i) {  // until all four report a step (<= 20 s)
    s = json();
    if (s.ranks.size() == 4 &&
        std::all_of(s.ranks.begin(), s.ranks.end(),
                    [](const launcher::RankStatus& r) { return r.step.has_value(); })) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(s.ranks.size(), 4u);
  ASSERT_EQ(kill(pids[0], SIGSTOP), 0);
  ASSERT_EQ(kill(pids[3], SIGSTOP), 0);
  absl::SleepFor(absl::Seconds(3));
  const absl::Time asked = absl::Now();
  const JobStatus first = json();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(5)) << "answers while rank 0 is stopped";
  absl::SleepFor(absl::Seconds(6));  // > 2 publishing intervals: the growth shows through
  const JobStatus later = json();
  ASSERT_EQ(first.ranks.size(), 4u);
  ASSERT_EQ(later.ranks.size(), 4u);
  for (int rank : {0, 3}) {
    EXPECT_GT(later.ranks[rank].heartbeat_age_s.value_or(-1),
              first.ranks[rank].heartbeat_age_s.value_or(99) + 2.0)
        << "rank " << rank;
    EXPECT_EQ(later.ranks[rank].pid, pids[rank]);
  }
  for (int rank : {1, 2}) {  // negative control: they beat on (rank 2: as of its publish)
    EXPECT_LT(later.ranks[rank].heartbeat_age_s.value_or(99), 3.0) << "rank " << rank;
  }
  for (pid_t p : pids) kill(p, SIGCONT);
  FILE* f = fopen(stop.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  for (auto& n : nodes) EXPECT_EQ(n->Wait(absl::Seconds(30)), std::optional<int>(0)) << n->err();
}

// A Python job that beats with its step: status shows steps, totals, a rate, and the
// heartbeat age of a SIGSTOPped rank growing; stacks shows each rank inside train_loop
// without stopping it, and the job then finishes. Twice: workers spawned, and forked by a
// --preload torch zygote (the parameter, as FABRIC_PRELOAD).
class PythonJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PythonJobTest, ProgressAgeOfAStoppedRankAndStacks) {
  const std::string python = VenvPython();
  ASSERT_FALSE(python.empty());
  const std::string tmp = ShortTmp();
  const std::string helper_dir = NewTempDir("py");
  const std::string stop = helper_dir + "/stop";
  std::map<std::string, std::string> env = {
      {"TMPDIR", tmp}, {"HELPER_DIR", helper_dir}, {"STOP_FILE", stop}};
  if (!GetParam().empty()) env["FABRIC_PRELOAD"] = GetParam();
  FabricRun job({"--devices", "2", "--python", python, "--run-id", "pyjob",
                 Runfile("tests/python/progress_loop.py")},
                env);
  const pid_t r0 = WaitForPidFile(helper_dir, "worker", 0);
  const pid_t r1 = WaitForPidFile(helper_dir, "worker", 1);
  ASSERT_GT(r0, 0) << job.err();
  ASSERT_GT(r1, 0) << job.err();
  auto json = [&] {
    Result r = Status(tmp, {"--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    absl::StatusOr<JobStatus> s = DecodeJobStatus(r.out);
    EXPECT_TRUE(s.ok()) << s.status() << r.out;
    return s.ok() ? *s : JobStatus{};
  };
  JobStatus s;
  for (int i = 0; i < 100; ++i) {  // until both ranks report a step and a rate (<= 20 s)
    s = json();
    if (s.ranks.size() == 2 && s.ranks[0].step_rate.value_or(0) > 0 &&
        s.ranks[1].step_rate.value_or(0) > 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(s.ranks.size(), 2u);
  for (const auto& r : s.ranks) {
    EXPECT_GT(r.step.value_or(0), 0u);
    EXPECT_EQ(r.total_steps, 100000u);
    EXPECT_GT(r.step_rate.value_or(0), 1.0) << "about 50 steps a second";
    EXPECT_GT(r.eta_s.value_or(0), 0);
    EXPECT_LT(r.heartbeat_age_s.value_or(99), 5);
  }
  // Rank 1 stopped: its heartbeat age grows, rank 0's does not.
  ASSERT_EQ(kill(r1, SIGSTOP), 0);
  absl::SleepFor(absl::Milliseconds(300));
  const double first = json().ranks[1].heartbeat_age_s.value_or(-1);
  absl::SleepFor(absl::Milliseconds(1500));
  JobStatus later = json();
  ASSERT_EQ(later.ranks.size(), 2u);
  EXPECT_GT(later.ranks[1].heartbeat_age_s.value_or(-1), first + 1.0);
  EXPECT_LT(later.ranks[0].heartbeat_age_s.value_or(99), 1.0) << "the running rank still beats";
  ASSERT_EQ(kill(r1, SIGCONT), 0);

  FabricRun stacks({"stacks"}, {{"TMPDIR", tmp}});
  ASSERT_EQ(stacks.Wait(absl::Seconds(60)), 0) << stacks.out() << stacks.err();
  EXPECT_THAT(stacks.out(), HasSubstr(absl::StrCat("=== rank 0 (pid ", r0)));
  EXPECT_THAT(stacks.out(), HasSubstr(absl::StrCat("=== rank 1 (pid ", r1)));
  size_t frames = 0;
  for (size_t at = 0; (at = stacks.out().find("train_loop", at)) != std::string::npos; ++at) {
    ++frames;
  }
  EXPECT_GE(frames, 2u) << stacks.out();
  FabricRun one({"stacks", "--rank", "1"}, {{"TMPDIR", tmp}});
  ASSERT_EQ(one.Wait(absl::Seconds(60)), 0) << one.err();
  EXPECT_THAT(one.out(), Not(HasSubstr("=== rank 0")));
  FabricRun none({"stacks", "--rank", "7"}, {{"TMPDIR", tmp}});
  EXPECT_EQ(none.Wait(absl::Seconds(60)), 1);
  EXPECT_THAT(none.err(), HasSubstr("rank 7 is not a running rank of job pyjob"));
  // The job goes on after the dumps and ends as it should.
  ASSERT_TRUE(Alive(r0) && Alive(r1));
  FILE* f = fopen(stop.c_str(), "w");
  fclose(f);
  EXPECT_EQ(job.Wait(absl::Seconds(60)), 0) << job.err();
  EXPECT_EQ(rmdir(tmp.c_str()), 0) << "the agent left its directory (e.g. Python's __pycache__)";
  EXPECT_THAT(job.err(), Not(HasSubstr("spawning Python workers normally")));
}

INSTANTIATE_TEST_SUITE_P(SpawnedAndPreloaded, PythonJobTest, ::testing::Values("", "torch"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param.empty() ? std::string("Spawned") : "Preload_" + p.param;
                         });

// A job on the C++ runtime hung in a collective (rank 1 left it, beating; rank 0 waits in
// Gloo's all-reduce): stacks shows rank 0's native stack without stopping it, and status
// shows rank 0's heartbeat age growing while rank 1's stays fresh.
TEST(NativeJobTest, StacksOfARankHungInACollective) {
  const std::string tmp = ShortTmp();
  FabricRun job({"--devices", "2", "--grace-period", "1s", "--", Runfile("tests/runtime/worker"),
                 "hang_in_collective", "after=1", "rounds=1000000"},
                {{"TMPDIR", tmp}});
  ASSERT_TRUE(job.WaitForOutput("VICTIM rank=1")) << job.err();
  absl::SleepFor(absl::Milliseconds(500));
  Result s0 = Status(tmp, {"--json"});
  absl::StatusOr<JobStatus> before = DecodeJobStatus(s0.out);
  ASSERT_TRUE(before.ok()) << before.status() << s0.err;
  ASSERT_EQ(before->ranks.size(), 2u);
  ASSERT_TRUE(before->ranks[0].stack_file.has_value()) << s0.out;
  FabricRun stacks({"stacks", "--rank", "0"}, {{"TMPDIR", tmp}});
  ASSERT_EQ(stacks.Wait(absl::Seconds(30)), 0) << stacks.out() << stacks.err();
  EXPECT_THAT(stacks.out(), HasSubstr("=== rank 0"));
  EXPECT_THAT(stacks.out(), HasSubstr("*** fabric runtime: live stack"));
  EXPECT_THAT(stacks.out(), HasSubstr("libtorch")) << "frames inside LibTorch's collective";
  absl::SleepFor(absl::Milliseconds(1500));
  absl::StatusOr<JobStatus> after = DecodeJobStatus(Status(tmp, {"--json"}).out);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(Alive(after->ranks[0].pid)) << "the dump did not stop it";
  EXPECT_GT(after->ranks[0].heartbeat_age_s.value_or(-1),
            before->ranks[0].heartbeat_age_s.value_or(0) + 1.0);
  EXPECT_LT(after->ranks[1].heartbeat_age_s.value_or(99), 1.0);
  kill(job.pid(), SIGTERM);
  job.Wait();
  EXPECT_EQ(rmdir(tmp.c_str()), 0);
}

TEST(StatusLinesTest, StacksWithoutPySpySaysHowToGetIt) {
  const std::string tmp = ShortTmp();
  const std::string helper_dir = NewTempDir("nospy");
  // A bare interpreter (no py-spy next to it) and a PATH without py-spy.
  const std::string script = helper_dir + "/sleeper.py";
  FILE* f = fopen(script.c_str(), "w");
  fputs("import time\nwhile True:\n    time.sleep(1)\n", f);
  fclose(f);
  FabricRun job({"--devices", "1", "--python", "/usr/bin/python3", script}, {{"TMPDIR", tmp}});
  Result r;
  for (int i = 0; i < 100; ++i) {
    FabricRun stacks({"stacks"}, {{"TMPDIR", tmp}, {"PATH", "/usr/bin:/bin"}});
    r.code = stacks.Wait(absl::Seconds(30)).value_or(-1);
    r.err = stacks.err();
    if (r.err.find("py-spy") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("py-spy is not installed: pip install py-spy"));
  kill(job.pid(), SIGTERM);
  job.Wait();
  EXPECT_EQ(rmdir(tmp.c_str()), 0) << "the agent left its directory";
}

TEST(StatusLinesTest, NoJobAnotherUsersSocketAndAStaleOne) {
  const std::string tmp = ShortTmp();
  Result none = Status(tmp, {});
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("fabric-run: no fabric-run job is running here"));
  EXPECT_EQ(none.out, "");

  auto make_socket = [&](const std::string& name) {
    const std::string dir = absl::StrCat(tmp, "/", name);
    mkdir(dir.c_str(), 0700);
    const std::string path = dir + "/status.sock";
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);  // bound, nobody listens: what an agent killed by SIGKILL would leave
    return path;
  };
  const std::string foreign = make_socket("fabric-run-other");
  ASSERT_EQ(chown(foreign.c_str(), 65534, 65534), 0) << std::strerror(errno);
  Result theirs = Status(tmp, {});
  EXPECT_EQ(theirs.code, 1);
  EXPECT_THAT(theirs.err, HasSubstr("no fabric-run job of yours runs here"));
  EXPECT_THAT(theirs.err, HasSubstr("run fabric-run status as that user"));

  const std::string stale = make_socket("fabric-run-dead");
  Result dead = Status(tmp, {});
  EXPECT_EQ(dead.code, 1);
  EXPECT_THAT(dead.err, HasSubstr(stale + " is stale"));
  int lines = 0;
  for (char c : dead.err) lines += c == '\n';
  EXPECT_EQ(lines, 1) << dead.err;

  Result bad = Status(tmp, {"--bogus"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("unexpected argument '--bogus'"));
  for (const std::string& sock : {foreign, stale}) {
    unlink(sock.c_str());
    rmdir(sock.substr(0, sock.rfind('/')).c_str());
  }
  rmdir(tmp.c_str());
}

TEST(StatusLinesTest, DashDashRunsAProgramNamedStatus) {
  const std::string dir = NewTempDir("prog");
  const std::string prog = dir + "/status";
  {
    FILE* f = fopen(prog.c_str(), "w");
    fputs("#!/bin/sh\necho i am the status program\n", f);
    fclose(f);
    chmod(prog.c_str(), 0755);
  }
  FabricRun run({"--", prog});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("i am the status program"));
  // The bare word after `--`, found in PATH: the program, not the command.
  FabricRun bare({"--", "status"}, {{"PATH", absl::StrCat(dir, ":", std::getenv("PATH"))}});
  ASSERT_EQ(bare.Wait(), 0) << bare.err();
  EXPECT_THAT(bare.out(), HasSubstr("i am the status program"));
  // Negative control: without `--` the word is fabric-run's command (no job runs here).
  FabricRun command({"status"}, {{"PATH", absl::StrCat(dir, ":", std::getenv("PATH"))},
                                 {"TMPDIR", NewTempDir("nojob")}});
  EXPECT_NE(command.Wait(), 0);
  EXPECT_THAT(command.out(), Not(HasSubstr("i am the status program")));
}

TEST(MetricsPortTest, APortInUseIsOneLineAndExitTwo) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string helper_dir = NewTempDir("inuse");
  FabricRun run({"--metrics-port", absl::StrCat(ntohs(a.sin_port)), HelperPath(), "sleep"},
                {{"HELPER_DIR", helper_dir}});
  EXPECT_EQ(run.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(run.err(), HasSubstr("--metrics-port: cannot listen on port"));
  EXPECT_EQ(WaitForPidFile(helper_dir, "worker", 0, absl::Seconds(1)), -1) << "nothing started";
  close(fd);
  FabricRun range({"--metrics-port", "70000", HelperPath(), "sleep"});
  EXPECT_EQ(range.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(range.err(), HasSubstr("--metrics-port"));
}

}  // namespace
}  // namespace fabric::testing
