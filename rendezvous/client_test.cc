// RendezvousClient against a real RendezvousServer on 127.0.0.1 port 0 (threads in one
// process; rendezvous/tests/ has the multi-process variants).
// (One file over 500 lines: the client's behaviours against one real server fixture.)
#include "rendezvous/client.h"

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/munge.h"
#include "common/munge_daemon.h"
#include "common/net.h"
#include "common/status_matchers.h"
#include "common/test_ca.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rendezvous/server.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kGenerous = absl::Seconds(30);

class ClientTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    if (o.keepalive_timeout == absl::Seconds(5)) o.keepalive_timeout = absl::Seconds(10);
    o.last_call_timeout = absl::Milliseconds(200);
    auto server = RendezvousServer::Create(o);
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    ASSERT_THAT(server_->Start(), IsOk());
  }
  ClientOptions Options(const std::string& node, int min_nodes = 2, int max_nodes = 2,
                        int max_restarts = 0) {
    ClientOptions o;
    o.server_address = server_->address();
    o.run_id = "job";
    o.node_id = node;
    o.local_world_size = 2;
    o.advertised_address = "addr-" + node;
    o.master_port = 40000 + static_cast<int>(node.back());
    o.min_nodes = min_nodes;
    o.max_nodes = max_nodes;
    o.max_restarts = max_restarts;
    o.join_timeout = kGenerous;
    o.token = token_;
    o.tls = tls_;
    return o;
  }
  std::unique_ptr<RendezvousClient> MustConnect(const ClientOptions& o) {
    auto c = RendezvousClient::Connect(o);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? std::move(*c) : nullptr;
  }
  // Joins every client concurrently; returns the assignments in client order.
  std::vector<Assignment> JoinAll(const std::vector<RendezvousClient*>& clients) {
    std::vector<absl::StatusOr<Assignment>> results(clients.size(),
                                                    absl::UnknownError("not joined"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = clients[i]->Join(); });
    }
    for (auto& t : threads) t.join();
    std::vector<Assignment> out;
    for (auto& r : results) {
      EXPECT_THAT(r, IsOk());
      out.push_back(r.ok() ? *r : Assignment{});
    }
    return out;
  }
  // The next event that is not a standby notice.
  Event NextEvent(RendezvousClient* c) {
    absl::StatusOr<Event> e = c->NextEvent(absl::Now() + kGenerous);
    EXPECT_THAT(e, IsOk());
    return e.ok() ? *e : Event{};
  }

  std::string token_;
  TlsConfig tls_;
  std::unique_ptr<RendezvousServer> server_;
};

TEST_F(ClientTest, TwoNodesJoinAndAgreeOnMasterAndRanks) {
  StartServer();
  auto a = MustConnect(Options("a"));
  auto b = MustConnect(Options("b"));
  std::vector<Assignment> as = JoinAll({a.get(), b.get()});
  EXPECT_EQ(as[0].world_size, 4);
  EXPECT_EQ(as[1].world_size, 4);
  EXPECT_NE(as[0].node_rank, as[1].node_rank);
  EXPECT_EQ(as[0].master_addr, as[1].master_addr);
  EXPECT_EQ(as[0].master_port, as[1].master_port);
  const Assignment& rank0 = as[0].node_rank == 0 ? as[0] : as[1];
  EXPECT_EQ(rank0.master_addr, "addr-" + rank0.members[0].node_id);
  EXPECT_EQ(as[0].global_rank_base + as[1].global_rank_base, 2);
}

TEST_F(ClientTest, ClosedStreamPushesRoundChangeToOthers) {
  StartServer();
  auto a = MustConnect(Options("a", 1, 3));
  auto b = MustConnect(Options("b", 1, 3));
  auto c = MustConnect(Options("c", 1, 3));
  JoinAll({a.get(), b.get(), c.get()});
  c->Close();
  for (RendezvousClient* survivor : {a.get(), b.get()}) {
    Event e = NextEvent(survivor);
    EXPECT_EQ(e.type, EventType::kRoundChanged);
    EXPECT_EQ(e.round, 2);
    EXPECT_THAT(e.reason, AllOf(HasSubstr("'c'"), HasSubstr("session stream closed")));
  }
  std::vector<Assignment> as = JoinAll({a.get(), b.get()});
  EXPECT_EQ(as[0].num_nodes, 2);
  EXPECT_EQ(as[0].round, 2);
}

TEST_F(ClientTest, MissedKeepAlivesMarkNodeLost) {
  ServerOptions o;
  o.keepalive_timeout = absl::Milliseconds(500);
  StartServer(o);
  ClientOptions hung = Options("hung", 1, 2);
  hung.keepalive_interval = absl::Hours(1);  // alive socket, silent agent (like SIGSTOP)
  ClientOptions ok = Options("ok", 1, 2);
  ok.keepalive_interval = absl::Milliseconds(50);
  auto h = MustConnect(hung);
  auto k = MustConnect(ok);
  JoinAll({h.get(), k.get()});
  Event e = NextEvent(k.get());
  EXPECT_EQ(e.type, EventType::kRoundChanged);
  EXPECT_THAT(e.reason, AllOf(HasSubstr("'hung'"), HasSubstr("no keep-alive")));
}

TEST_F(ClientTest, StaleRoundIsAborted) {
  StartServer();
  auto a = MustConnect(Options("a", 1, 1));
  FABRIC_ASSERT_OK_AND_ASSIGN(Assignment as, a->Join());
  EXPECT_THAT(a->ReportSuccess(as.round + 5),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("stale round")));
  WorkerFailure f;
  EXPECT_THAT(a->ReportWorkerFailure(as.round - 1, f),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("stale round")));
}

TEST_F(ClientTest, WorkerFailureRestartsEveryoneThenSpentBudgetFailsRun) {
  StartServer();
  auto a = MustConnect(Options("a", 2, 2, 1));
  auto b = MustConnect(Options("b", 2, 2, 1));
  std::vector<Assignment> as = JoinAll({a.get(), b.get()});
  WorkerFailure f;
  f.global_rank = 1;
  f.exit_code = 3;
  f.message = "boom";
  FABRIC_ASSERT_OK_AND_ASSIGN(FailureReportResult r, b->ReportWorkerFailure(as[1].round, f));
  EXPECT_FALSE(r.run_failed);
  EXPECT_EQ(r.restarts_left, 0);
  for (RendezvousClient* c : {a.get(), b.get()}) {
    Event e = NextEvent(c);
    EXPECT_EQ(e.type, EventType::kRoundChanged);
    EXPECT_EQ(e.root_cause.node_id, "b");
  }
  as = JoinAll({a.get(), b.get()});
  EXPECT_EQ(as[0].restart_count, 1);
  f.global_rank = 0;
  f.exit_code = -1;
  f.signal = 11;
  f.stderr_tail = "Segmentation fault";
  FABRIC_ASSERT_OK_AND_ASSIGN(r, a->ReportWorkerFailure(as[0].round, f));
  EXPECT_TRUE(r.run_failed);
  for (RendezvousClient* c : {a.get(), b.get()}) {
    Event e = NextEvent(c);
    EXPECT_EQ(e.type, EventType::kRunFailed);
    EXPECT_EQ(e.root_cause.node_id, "a");
    EXPECT_EQ(e.root_cause.stderr_tail, "Segmentation fault");
    EXPECT_THAT(e.reason, HasSubstr("SIGSEGV"));
  }
}

TEST_F(ClientTest, EveryNodeSucceedingClosesTheRun) {
  StartServer();
  auto a = MustConnect(Options("a"));
  auto b = MustConnect(Options("b"));
  std::vector<Assignment> as = JoinAll({a.get(), b.get()});
  FABRIC_ASSERT_OK_AND_ASSIGN(bool closed, a->ReportSuccess(as[0].round));
  EXPECT_FALSE(closed);
  FABRIC_ASSERT_OK_AND_ASSIGN(closed, b->ReportSuccess(as[1].round));
  EXPECT_TRUE(closed);
  for (RendezvousClient* c : {a.get(), b.get()}) {
    EXPECT_EQ(NextEvent(c).type, EventType::kRunSucceeded);
  }
  EXPECT_EQ(server_->Status().phase, Phase::kSucceeded);
}

TEST_F(ClientTest, ReportWithLostResponseSpendsOneRestart) {
  StartServer();
  FaultInjector faults;
  ClientOptions oa = Options("a", 1, 1, 5);
  oa.faults = &faults;
  auto a = MustConnect(oa);
  FABRIC_ASSERT_OK_AND_ASSIGN(Assignment as, a->Join());
  faults.FailNth(1, FaultMode::kDropResponse);
  WorkerFailure f;
  FABRIC_ASSERT_OK_AND_ASSIGN(FailureReportResult r, a->ReportWorkerFailure(as.round, f));
  EXPECT_EQ(faults.injected(), 1);
  EXPECT_EQ(r.round, as.round + 1) << "the retry got the first call's answer";
  EXPECT_EQ(r.restarts_left, 4);
  EXPECT_EQ(server_->Status().restart_count, 1);
}

TEST_F(ClientTest, ReportWithLostRequestIsRetried) {
  StartServer();
  FaultInjector faults;
  ClientOptions oa = Options("a", 1, 1, 5);
  oa.faults = &faults;
  auto a = MustConnect(oa);
  FABRIC_ASSERT_OK_AND_ASSIGN(Assignment as, a->Join());
  faults.FailNth(1, FaultMode::kDropRequest);
  WorkerFailure f;
  FABRIC_ASSERT_OK_AND_ASSIGN(FailureReportResult r, a->ReportWorkerFailure(as.round, f));
  EXPECT_EQ(faults.injected(), 1);
  EXPECT_EQ(r.restarts_left, 4);
  EXPECT_EQ(server_->Status().restart_count, 1);
}

TEST_F(ClientTest, JoinWithLostResponseGetsTheSameAssignment) {
  StartServer();
  FaultInjector faults;
  ClientOptions oa = Options("a", 1, 1, 0);
  oa.faults = &faults;
  auto a = MustConnect(oa);
  faults.FailNth(1, FaultMode::kDropResponse);
  FABRIC_ASSERT_OK_AND_ASSIGN(Assignment as, a->Join());
  EXPECT_EQ(faults.injected(), 1);
  EXPECT_EQ(as.round, 1) << "a replayed join must not start a new round";
  EXPECT_EQ(server_->Status().round, 1);
}

// A SLURM job with no token: the server accepts the munge credentials of its own uid
// made for its run, with a real munged; a credential from another cluster's key, one
// for another run, a token and no credential at all are refused.
TEST_F(ClientTest, MungeCredentialsOfThisClusterAndRunAreAccepted) {
  MungeDaemon cluster, other;
  ASSERT_THAT(cluster.Start(), IsOk());
  ASSERT_THAT(other.Start(), IsOk());
  ServerOptions o;
  o.munge = true;
  o.munge_socket = cluster.socket();
  o.run_id = "job";
  StartServer(o);

  EXPECT_THAT(RendezvousClient::Connect(Options("a")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no munge credential")));
  token_ = "a-shared-token";
  EXPECT_THAT(RendezvousClient::Connect(Options("a")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no munge credential")));
  FABRIC_ASSERT_OK_AND_ASSIGN(token_, MungeEncode(other.socket(), "job", 600));
  EXPECT_THAT(RendezvousClient::Connect(Options("a")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not accepted")));
  FABRIC_ASSERT_OK_AND_ASSIGN(token_, MungeEncode(cluster.socket(), "another-run", 600));
  EXPECT_THAT(RendezvousClient::Connect(Options("a")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("another-run")));

  // One credential per agent, presented on every call (munged decodes it once).
  FABRIC_ASSERT_OK_AND_ASSIGN(token_, MungeEncode(cluster.socket(), "job", 600));
  auto a = MustConnect(Options("a"));
  FABRIC_ASSERT_OK_AND_ASSIGN(token_, MungeEncode(cluster.socket(), "job", 600));
  auto b = MustConnect(Options("b"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::vector<Assignment> as = JoinAll({a.get(), b.get()});
  EXPECT_EQ(as[0].world_size, 4);
  EXPECT_THAT(a->GetStatus(), IsOk());
  EXPECT_THAT(b->GetStatus(), IsOk());
}

// A request over the server's size limit is refused with RESOURCE_EXHAUSTED and the
// server keeps serving the calls of a normal size.
TEST_F(ClientTest, OversizedRequestIsRefusedAndTheServerKeepsServing) {
  StartServer();
  auto a = MustConnect(Options("a", 1, 1));
  ASSERT_NE(a, nullptr);
  FABRIC_ASSERT_OK_AND_ASSIGN(Assignment as, a->Join());
  const std::string huge(kMaxRequestBytes + 1, 'x');
  EXPECT_THAT(a->Leave(huge), StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  // The refused Leave never reached the run: the node is still its member.
  FABRIC_ASSERT_OK_AND_ASSIGN(RunStatus status, a->GetStatus());
  EXPECT_EQ(status.round, as.round);
  EXPECT_EQ(status.members.size(), 1u);
  EXPECT_THAT(a->Leave("small"), IsOk());
}

// TLS with a CA made at test time: a client that trusts the CA joins; a plaintext
// client and one trusting another CA cannot; with client certificates required, a
// client without one (or with another CA's) is refused.
TEST_F(ClientTest, TlsServerAndClientCertificates) {
  FABRIC_ASSERT_OK_AND_ASSIGN(TestCa ca, TestCa::Create());
  FABRIC_ASSERT_OK_AND_ASSIGN(TestCa other, TestCa::Create());
  FABRIC_ASSERT_OK_AND_ASSIGN(TestCert server_cert,
                              ca.Issue("server", {"DNS:localhost", "IP:127.0.0.1"}));
  FABRIC_ASSERT_OK_AND_ASSIGN(TestCert client_cert, ca.Issue("client", {"DNS:agent"}));
  FABRIC_ASSERT_OK_AND_ASSIGN(TestCert stranger, other.Issue("stranger", {"DNS:agent"}));
  ServerOptions o;
  FABRIC_ASSERT_OK_AND_ASSIGN(
      o.tls, LoadTls({ca.ca_cert(), server_cert.cert, server_cert.key, /*require=*/true}));
  StartServer(o);
  auto connect = [&](const TlsFiles& files) {
    absl::StatusOr<TlsConfig> tls = LoadTls(files);
    EXPECT_THAT(tls, IsOk());
    tls_ = tls.ok() ? *tls : TlsConfig{};
    ClientOptions c = Options("a", 1, 1);
    c.join_timeout = absl::Seconds(3);
    return RendezvousClient::Connect(c);
  };
  EXPECT_THAT(connect({}), Not(IsOk())) << "plaintext to a TLS server";
  EXPECT_THAT(connect({other.ca_cert(), client_cert.cert, client_cert.key}), Not(IsOk()))
      << "a client that does not trust the server's CA";
  EXPECT_THAT(connect({ca.ca_cert()}), Not(IsOk())) << "no client certificate";
  EXPECT_THAT(connect({ca.ca_cert(), stranger.cert, stranger.key}), Not(IsOk()))
      << "a client certificate of another CA";
  absl::StatusOr<std::unique_ptr<RendezvousClient>> a =
      connect({ca.ca_cert(), client_cert.cert, client_cert.key});
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT((*a)->Join(), IsOk());
  EXPECT_THAT((*a)->GetStatus(), IsOk());
}

TEST(TlsTest, LoadTlsNamesWhatIsMissingOrWrong) {
  EXPECT_FALSE(LoadTls({}).value().enabled());
  EXPECT_THAT(LoadTls({"/nonexistent/ca.pem"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/nonexistent/ca.pem")));
  FABRIC_ASSERT_OK_AND_ASSIGN(TestCa ca, TestCa::Create());
  EXPECT_THAT(LoadTls({"", ca.ca_cert(), ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("give both")));
  EXPECT_THAT(LoadTls({"", "", "", /*require=*/true}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CA")));
  const std::string not_pem = ca.dir() + "/ca.srl.txt";
  { std::ofstream(not_pem) << "hello"; }
  EXPECT_THAT(LoadTls({not_pem}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PEM")));
}

TEST_F(ClientTest, MissingOrWrongTokenIsUnauthenticated) {
  ServerOptions o;
  o.token = "s3cret";
  StartServer(o);
  EXPECT_THAT(RendezvousClient::Connect(Options("a")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("requires a token")));
  token_ = "wrong";
  EXPECT_THAT(RendezvousClient::Connect(Options("a")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("wrong rendezvous token")));
  token_ = "s3cret";
  auto a = MustConnect(Options("a", 1, 1));
  EXPECT_THAT(a->Join(), IsOk());
  EXPECT_THAT(a->GetStatus(), IsOk());
}

TEST_F(ClientTest, MismatchedConfigurationIsRefusedNamingBothValues) {
  StartServer();
  auto a = MustConnect(Options("a", 2, 2));
  std::thread join_a([&] { (void)a->Join(); });
  auto b = MustConnect(Options("b", 2, 4));
  // Whichever joined first set the configuration; give a's join a moment to land.
  absl::StatusOr<Assignment> r;
  for (int i = 0; i < 100; ++i) {
    if (server_->Status().min_nodes == 2) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  r = b->Join();
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition,
                          AllOf(HasSubstr("max_nodes=4"), HasSubstr("max_nodes=2"))));
  a->Close();
  join_a.join();
}

TEST_F(ClientTest, MismatchedRunIdIsRefused) {
  ServerOptions o;
  o.run_id = "job";
  StartServer(o);
  ClientOptions other = Options("a");
  other.run_id = "other-job";
  EXPECT_THAT(RendezvousClient::Connect(other),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("'other-job'"), HasSubstr("'job'"))));
}

TEST_F(ClientTest, ConnectRetriesUntilTheServerComesUp) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  ClientOptions o;
  o.server_address = "127.0.0.1:" + std::to_string(port);
  o.run_id = "job";
  o.node_id = "early";
  o.join_timeout = kGenerous;
  absl::StatusOr<std::unique_ptr<RendezvousClient>> c = absl::UnknownError("not run");
  std::thread connect([&] { c = RendezvousClient::Connect(o); });
  absl::SleepFor(absl::Milliseconds(300));
  ServerOptions so;
  so.port = port;
  StartServer(so);
  connect.join();
  EXPECT_THAT(c, IsOk());
}

TEST_F(ClientTest, ConnectGivesUpNamingTheAddress) {
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  ClientOptions o;
  o.server_address = "127.0.0.1:" + std::to_string(port);
  o.run_id = "job";
  o.node_id = "lonely";
  o.join_timeout = absl::Milliseconds(300);
  EXPECT_THAT(RendezvousClient::Connect(o),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(o.server_address)));
}

TEST_F(ClientTest, JoinTimeoutSaysHowManyNodesJoined) {
  ServerOptions o;
  o.join_timeout = absl::Milliseconds(300);
  StartServer(o);
  auto a = MustConnect(Options("a", 3, 3));
  EXPECT_THAT(a->Join(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                  AllOf(HasSubstr("1/3 nodes"), HasSubstr("a"))));
}

TEST_F(ClientTest, SpareJoinsWhenAMemberIsLost) {
  StartServer();
  auto a = MustConnect(Options("a", 1, 2, 0));
  auto b = MustConnect(Options("b", 1, 2, 0));
  const int a_rank = JoinAll({a.get(), b.get()})[0].node_rank;
  auto c = MustConnect(Options("c", 1, 2, 0));
  absl::StatusOr<Assignment> spare = absl::UnknownError("not joined");
  std::thread join_c([&] { spare = c->Join(); });
  EXPECT_EQ(NextEvent(c.get()).type, EventType::kStandby);
  b->Close();
  EXPECT_EQ(NextEvent(a.get()).type, EventType::kRoundChanged);
  FABRIC_ASSERT_OK_AND_ASSIGN(Assignment ra, a->Join());
  join_c.join();
  ASSERT_THAT(spare, IsOk());
  EXPECT_EQ(spare->round, 2);
  EXPECT_EQ(ra.num_nodes, 2);
  EXPECT_EQ(ra.node_rank, a_rank) << "the survivor keeps its node rank";
  EXPECT_EQ(spare->node_rank, 1 - a_rank) << "the spare takes the lost node's rank";
}

TEST_F(ClientTest, ServerBindsOnlyTheAddressItWasGiven) {
  ServerOptions o;
  o.host = "127.0.0.2";
  auto server = RendezvousServer::Create(o);
  ASSERT_THAT(server, IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, (*server)->Start());
  ClientOptions c;
  c.run_id = "job";
  c.node_id = "a";
  c.server_address = "127.0.0.1:" + std::to_string(port);
  c.join_timeout = absl::Milliseconds(300);
  EXPECT_THAT(RendezvousClient::Connect(c),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(c.server_address)));
  c.server_address = "127.0.0.2:" + std::to_string(port);
  c.join_timeout = kGenerous;
  EXPECT_THAT(RendezvousClient::Connect(c), IsOk());
}

TEST_F(ClientTest, ShutdownEndsSessionsWithConnectionLost) {
  StartServer();
  auto a = MustConnect(Options("a", 1, 1));
  ASSERT_THAT(a->Join(), IsOk());
  server_->Shutdown();
  EXPECT_EQ(NextEvent(a.get()).type, EventType::kConnectionLost);
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
