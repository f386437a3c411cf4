// RdzvCoordinator (rdzv_coordinator.h): one file over 500 lines because it is one
// object with one worker thread: hosting decision (Start), the connect/join/report task
// queue, pushed session events, the watchdog and the exit barrier all share its mutex
// and event queue. Socket helpers are in common/endpoint, auth in rdzv_auth.
#include "launcher/rdzv_coordinator.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/endpoint.h"
#include "common/logging.h"
#include "common/net.h"
#include "common/wait_schedule.h"
#include "launcher/join_wait.h"

namespace fabric::launcher {
namespace {

namespace rdzv = ::fabric::rendezvous;
using Kind = CoordinatorEvent::Kind;

}  // namespace

std::string FormatClusterFailure(const std::string& run_id, const std::string& reason,
                                 const rdzv::WorkerFailure* cause, int restart_count,
                                 int max_restarts) {
  std::string s = absl::StrCat("fabric-run: job ", run_id,
                               " failed on every node (restarts spent: ", restart_count, " of ",
                               max_restarts, ")\n");
  if (cause != nullptr) {
    absl::StrAppend(&s, "fabric-run:   root cause: rank ", cause->global_rank, " on node ",
                    cause->node_rank, " (", cause->node_id, ", local rank ", cause->local_rank,
                    "): ");
    if (cause->signal != 0) {
      absl::StrAppend(&s, "killed by ", SignalName(cause->signal), " (", cause->signal, ")");
    } else {
      absl::StrAppend(&s, "exit code ", cause->exit_code);
    }
    if (!cause->message.empty()) absl::StrAppend(&s, ": ", cause->message);
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(&s, "fabric-run:   reason: ", reason, "\n");
  return s;
}

int ClusterExitCode(const rdzv::WorkerFailure* cause) {
  if (cause == nullptr) return 1;
  if (cause->signal != 0) return 128 + cause->signal;
  return cause->exit_code > 0 ? cause->exit_code : 1;
}

absl::StatusOr<std::unique_ptr<RdzvCoordinator>> RdzvCoordinator::Create(
    RdzvCoordinatorOptions options) {
  if (options.run_id.empty() || options.node_id.empty()) {
    return absl::InvalidArgumentError("multi-node agent: run id and node id must be set");
  }
  std::unique_ptr<RdzvCoordinator> c(new RdzvCoordinator(std::move(options)));
  c->event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->event_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  return c;
}

RdzvCoordinator::~RdzvCoordinator() {
  Shutdown();
  if (event_fd_ >= 0) close(event_fd_);
}

absl::Status RdzvCoordinator::Start() {
  const LaunchOptions& lo = options_.launch;
  // Where the rendezvous is: --main-address:--main-port, or torchrun's c10d spelling
  // --rdzv-endpoint HOST:PORT.
  const bool endpoint = !lo.rdzv_endpoint.empty();
  std::string host = lo.main_address;
  std::string port = absl::StrCat(lo.main_port);
  if (endpoint && !SplitHostPort(lo.rdzv_endpoint, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rdzv-endpoint '", lo.rdzv_endpoint, "' is not HOST:PORT"));
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number)) {
    return absl::InvalidArgumentError(absl::StrCat("rendezvous port '", port, "' is not a number"));
  }
  // Who hosts it. --main-address: node rank 0 must; with no node rank, whoever binds
  // the address first. --rdzv-endpoint (torchrun's c10d rule): the agent on the
  // endpoint's host may, unless something (fabric-rendezvous, another agent of this
  // host) already listens there; then it joins as a client.
  const bool must_host = !endpoint && lo.node_rank.has_value() && *lo.node_rank == 0;
  const bool may_host =
      (!lo.node_rank.has_value() || *lo.node_rank == 0) && (!endpoint || IsThisHost(host));
  std::string bind_host = host;
  if (may_host && !IsWildcard(host) && !Resolves(host) && IsThisHost(host)) {
    // This machine's own name, not in DNS yet (a Kubernetes pod's record appears after
    // the pod starts): listen on every interface; the others retry until it resolves.
    LogInfo(host,
            " names this host but does not resolve yet; the rendezvous listens on "
            "every interface");
    bind_host = "0.0.0.0";
  }
  const bool tls_without_cert = options_.tls.enabled() && options_.tls.cert_pem.empty();
  if (must_host && tls_without_cert) {
    return absl::InvalidArgumentError(
        "--node-rank 0 hosts the rendezvous and TLS is on (--rdzv-tls-ca): it needs its "
        "certificate and key, --rdzv-tls-cert and --rdzv-tls-key");
  }
  if (may_host && !tls_without_cert) {
    rdzv::ServerOptions so;
    so.host = bind_host;
    so.port = port_number;
    so.token = options_.munge ? "" : options_.token;
    so.munge = options_.munge;
    so.munge_socket = options_.munge_socket;
    so.tls = options_.tls;
    so.run_id = options_.run_id;
    so.keepalive_timeout = lo.keepalive_timeout;
    so.last_call_timeout = lo.last_call_timeout;
    so.join_timeout = lo.join_timeout;
    absl::StatusOr<std::unique_ptr<rdzv::RendezvousServer>> server =
        rdzv::RendezvousServer::Create(so);
    if (!server.ok()) return server.status();
    absl::StatusOr<int> bound = (*server)->Start();
    if (bound.ok()) {
      server_ = std::move(*server);
    } else if (must_host) {
      return absl::UnavailableError(absl::StrCat(
          "--node-rank 0 hosts the rendezvous, but it cannot listen on ",
          rdzv::JoinHostPort(host, port_number),
          " (port in use, or not an address of this host); pick a free --main-port or this "
          "host's address for --main-address"));
    }
  }
  const std::string dial = IsWildcard(bind_host) ? "127.0.0.1" : host;
  server_address_ = rdzv::JoinHostPort(dial, port_number);
  advertised_ = hosting() && !IsWildcard(bind_host) ? host : LocalAddressToward(dial, port);
  if (hosting()) {
    LogInfo("hosting the rendezvous on ", server_address_, " (run ", options_.run_id, ", auth ",
            options_.auth_name, options_.tls.enabled() ? ", TLS" : "", ")");
  }
  worker_ = std::thread([this] { WorkerLoop(); });
  watchdog_ = std::thread([this] { WatchdogLoop(); });
  return absl::OkStatus();
}

void RdzvCoordinator::Post(CoordinatorEvent event) {
  LogDebug("coordinator event ", static_cast<int>(event.kind), " round ", event.round, ": ",
           event.message);
  {
    absl::MutexLock lock(&mu_);
    if (event.kind == Kind::kRunFailed || event.kind == Kind::kRunSucceeded ||
        event.kind == Kind::kFatal) {
      terminal_ = true;
    }
    events_.push_back(std::move(event));
  }
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof(one));
}

std::vector<CoordinatorEvent> RdzvCoordinator::TakeEvents() {
  uint64_t n;
  (void)!read(event_fd_, &n, sizeof(n));
  absl::MutexLock lock(&mu_);
  std::vector<CoordinatorEvent> out(std::make_move_iterator(events_.begin()),
                                    std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

void RdzvCoordinator::Enqueue(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(task));
}

void RdzvCoordinator::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !tasks_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
    }
    task();
    absl::MutexLock lock(&mu_);
    busy_ = false;
  }
}

void RdzvCoordinator::WatchdogLoop() {
  const absl::Duration interval = options_.launch.keepalive_timeout / 3;
  absl::MutexLock lock(&mu_);
  auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || fetch_peers_now_; };
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&woken), interval);
    if (stop_) break;
    fetch_peers_now_ = false;
    rdzv::RendezvousClient* client = client_.get();
    if (client == nullptr || terminal_ || server_lost_) continue;
    const bool with_peers = absl::Now() < peers_wanted_until_;
    mu_.Unlock();
    const absl::Time start = absl::Now();
    absl::StatusOr<rdzv::RunStatus> st = client->GetStatus(with_peers);  // bounded by rpc_timeout
    mu_.Lock();
    if (st.ok() && with_peers) peers_ = std::move(st->node_status);
    if (st.ok() || stop_ || terminal_ || server_lost_) continue;
    if (st.status().code() != absl::StatusCode::kDeadlineExceeded &&
        st.status().code() != absl::StatusCode::kUnavailable) {
      continue;
    }
    server_lost_ = true;
    CoordinatorEvent e;
    e.kind = Kind::kFatal;
    e.message = absl::StrCat(
        "the rendezvous server at ", server_address_, " did not answer for ",
        absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100))),
        " (--keepalive-timeout ", absl::FormatDuration(options_.launch.keepalive_timeout),
        "): its host hung, died or the network to it failed; stopped this node's workers "
        "(--rdzv-backend etcd survives the loss of any host)");
    mu_.Unlock();
    Post(std::move(e));
    mu_.Lock();
  }
}

void RdzvCoordinator::PublishStatus(std::string node_status) {
  absl::MutexLock lock(&mu_);
  if (client_ != nullptr) client_->SetNodeStatus(std::move(node_status));
}

void RdzvCoordinator::WantPeerStatuses() {
  absl::MutexLock lock(&mu_);
  const bool fresh = absl::Now() < peers_wanted_until_;
  peers_wanted_until_ = absl::Now() + absl::Minutes(1);
  if (!fresh) {  // the first ask in a while: what was fetched before is stale; fetch at once
    peers_.reset();
    fetch_peers_now_ = true;
  }
}

std::optional<std::vector<std::string>> RdzvCoordinator::PeerStatuses() {
  absl::MutexLock lock(&mu_);
  if (absl::Now() >= peers_wanted_until_) return std::nullopt;
  return peers_;
}

CoordinatorEvent RdzvCoordinator::FailedEvent(const std::string& reason,
                                              const rdzv::WorkerFailure* cause, int restart_count) {
  CoordinatorEvent e;
  e.kind = Kind::kRunFailed;
  e.message = FormatClusterFailure(options_.run_id, reason, cause, restart_count,
                                   options_.launch.max_restarts);
  e.exit_code = ClusterExitCode(cause);
  return e;
}

namespace {

// The node loss a round change's or a run failure's reason names (the rendezvous writes
// it with rdzv::DescribeNodeLoss), as the agent's event log records it.
std::optional<LostNode> LostNodeIn(const std::string& reason) {
  std::optional<rdzv::NodeLoss> loss = rdzv::FindNodeLoss(reason);
  if (!loss) return std::nullopt;
  return LostNode{loss->node_id, loss->node_rank, loss->why};
}

}  // namespace

void RdzvCoordinator::OnSessionEvent(const rdzv::Event& event) {
  CoordinatorEvent e;
  switch (event.type) {
    case rdzv::EventType::kSessionOpened: return;
    case rdzv::EventType::kStandby: LogInfo("this node waits as a spare: ", event.reason); return;
    case rdzv::EventType::kRoundChanged:
      e.kind = Kind::kRoundChanged;
      e.round = event.round;
      e.message = event.reason;
      e.membership_change = !event.has_root_cause;
      if (e.membership_change) e.lost_node = LostNodeIn(event.reason);
      break;
    case rdzv::EventType::kRunSucceeded: e.kind = Kind::kRunSucceeded; break;
    case rdzv::EventType::kRunFailed:
      e = FailedEvent(event.reason, event.has_root_cause ? &event.root_cause : nullptr,
                      event.restart_count);
      if (!event.has_root_cause) e.lost_node = LostNodeIn(event.reason);
      break;
    case rdzv::EventType::kConnectionLost: {
      absl::MutexLock lock(&mu_);
      server_lost_ = true;
      if (terminal_) return;
      e.kind = Kind::kFatal;
      e.message = absl::StrCat("lost the rendezvous server at ", server_address_,
                               server_ != nullptr
                                   ? ""
                                   : (options_.launch.rdzv_endpoint.empty()
                                          ? " (the agent hosting it, node rank 0, died or the "
                                            "network to it failed)"
                                          : " (fabric-rendezvous stopped or the network to it "
                                            "failed)"),
                               "; stopped this node's workers: ", event.reason,
                               " (--rdzv-backend etcd survives the loss of any host)");
      break;
    }
  }
  Post(std::move(e));
}

bool RdzvCoordinator::EnsureConnected() {
  {
    absl::MutexLock lock(&mu_);
    if (client_ != nullptr) return true;
  }
  const LaunchOptions& lo = options_.launch;
  rdzv::ClientOptions co;
  co.server_address = server_address_;
  co.run_id = options_.run_id;
  co.node_id = options_.node_id;
  co.local_world_size = lo.devices;
  co.advertised_address = advertised_;
  co.requested_node_rank = lo.node_rank.value_or(-1);
  co.min_nodes = lo.min_nodes;
  co.max_nodes = lo.max_nodes;
  co.max_restarts = lo.max_restarts;
  co.token = options_.token;
  co.tls = options_.tls;
  co.join_timeout = lo.join_timeout;
  co.rpc_timeout = lo.keepalive_timeout;
  const std::string nodes =
      absl::StrCat("0 of ", lo.min_nodes == lo.max_nodes ? "" : "at least ", lo.min_nodes,
                   " nodes known to have joined: this node never got in");
  std::string host, port;
  const absl::Time join_start = absl::Now();
  auto progress = [&](absl::string_view why, absl::Duration waited) {
    LogProgress("waiting for the rendezvous at ", server_address_, ": ", why, " (",
                absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1))), " of --join-timeout ",
                absl::FormatDuration(lo.join_timeout), ")");
  };
  if (SplitHostPort(server_address_, &host, &port) &&
      !WaitForListener(host, port, join_start + lo.join_timeout, progress)) {
    CoordinatorEvent e;
    e.kind = Kind::kFatal;
    e.message = absl::StrCat(
        "cannot join the job: could not reach the rendezvous server at ", server_address_,
        " within --join-timeout ", absl::FormatDuration(lo.join_timeout), " (", nodes,
        "); is the node-rank-0 agent (or fabric-rendezvous) running there, and is the "
        "address right?");
    Post(std::move(e));
    return false;
  }
  LogDebug("connecting to ", server_address_);
  absl::StatusOr<std::unique_ptr<rdzv::RendezvousClient>> client =
      rdzv::RendezvousClient::Connect(co);
  LogDebug("connect: ", client.status().ToString());
  if (!client.ok()) {
    CoordinatorEvent e;
    e.kind = Kind::kFatal;
    e.message = absl::StrCat("cannot join the job: ", client.status().message(), " (", nodes, ")");
    Post(std::move(e));
    return false;
  }
  (*client)->SetEventCallback([this](const rdzv::Event& ev) { OnSessionEvent(ev); });
  absl::MutexLock lock(&mu_);
  client_ = std::move(*client);
  return true;
}

void RdzvCoordinator::RequestPlan() {
  Enqueue([this] {
    if (!EnsureConnected()) return;
    rdzv::RendezvousClient* client;
    {
      absl::MutexLock lock(&mu_);
      client = client_.get();
    }
    int port = 0;
    for (int tries = 0; tries < 16; ++tries) {
      absl::StatusOr<int> p = PickFreePort();
      if (p.ok() && used_ports_.count(*p) == 0) {
        port = *p;
        break;
      }
    }
    LogDebug("joining with master port candidate ", port);
    absl::StatusOr<rdzv::Assignment> a;
    {
      // Waiting is never silent: a line at 2 s, 4 s, 8 s ... while the round forms.
      WaitReporter waiting([this, client](absl::Duration w) { ReportJoinWait(client, w); });
      a = client->Join(port);
    }
    if (!a.ok()) {
      if (a.status().code() == absl::StatusCode::kFailedPrecondition) {
        absl::StatusOr<rdzv::RunStatus> st = client->GetStatus();
        if (st.ok() && st->phase == rdzv::Phase::kFailed) {
          Post(FailedEvent(st->failure_reason, st->has_root_cause ? &st->root_cause : nullptr,
                           st->restart_count));
          return;
        }
      }
      CoordinatorEvent e;
      e.kind = Kind::kFatal;
      e.message = absl::StrCat("rendezvous join refused or failed: ", a.status().message());
      Post(std::move(e));
      return;
    }
    used_ports_.insert(a->master_port);
    {
      absl::MutexLock lock(&mu_);
      last_members_.clear();
      for (const rdzv::Member& m : a->members) last_members_.push_back(m.node_id);
    }
    last_ranks_.clear();
    for (const rdzv::Member& m : a->members) last_ranks_[m.node_id] = m.node_rank;
    CoordinatorEvent e;
    e.kind = Kind::kPlan;
    e.plan = rdzv::PlacementOf(*a, options_.run_id);
    e.round = a->round;
    if (!a->members.empty()) e.rank0_node = a->members.front().node_id;
    Post(std::move(e));
  });
}

void RdzvCoordinator::ReportJoinWait(rdzv::RendezvousClient* client, absl::Duration waited) {
  const LaunchOptions& lo = options_.launch;
  JoinWait w;
  w.server_address = server_address_;
  w.min_nodes = lo.min_nodes;
  w.max_nodes = lo.max_nodes;
  w.waited = waited;
  w.join_timeout = lo.join_timeout;
  absl::StatusOr<rdzv::RunStatus> st = client->GetStatus();  // bounded by rpc_timeout
  if (st.ok()) {
    w.joined = static_cast<int>(st->waiting.size());
    if (st->min_nodes > 0) w.min_nodes = st->min_nodes;  // the run's, as the server holds them
    if (st->max_nodes > 0) w.max_nodes = st->max_nodes;
    w.missing = MissingNodes(st->waiting, last_ranks_, options_.node_id, lo.node_rank, w.min_nodes,
                             w.max_nodes);
  } else {
    w.unknown_why = std::string(st.status().message());
  }
  LogProgress(FormatJoinWait(w));
}

void RdzvCoordinator::ReportFailure(const NodePlacement& plan, const LocalFailure& failure) {
  rdzv::WorkerFailure f;
  f.node_id = options_.node_id;
  f.node_rank = plan.node_rank;
  f.global_rank = failure.global_rank;
  f.local_rank = failure.local_rank;
  f.exit_code = failure.status.signal != 0 ? -1 : failure.status.code;
  f.signal = failure.status.signal;
  f.message = failure.message;
  f.stderr_tail = failure.stderr_tail;
  const int64_t round = plan.round;
  Enqueue([this, f, round] {
    rdzv::RendezvousClient* client;
    {
      absl::MutexLock lock(&mu_);
      client = client_.get();
    }
    if (client == nullptr) return;
    absl::StatusOr<rdzv::FailureReportResult> r = client->ReportWorkerFailure(round, f);
    // ABORTED: a newer round already began (its event is on the session);
    // FAILED_PRECONDITION: the run already ended (likewise).
    if (!r.ok() && r.status().code() != absl::StatusCode::kAborted &&
        r.status().code() != absl::StatusCode::kFailedPrecondition) {
      CoordinatorEvent e;
      e.kind = Kind::kFatal;
      e.message = absl::StrCat("could not report the worker failure to the rendezvous at ",
                               server_address_, ": ", r.status().message());
      Post(std::move(e));
    }
  });
}

void RdzvCoordinator::ReportSuccess(const NodePlacement& plan) {
  const int64_t round = plan.round;
  Enqueue([this, round] {
    rdzv::RendezvousClient* client;
    {
      absl::MutexLock lock(&mu_);
      client = client_.get();
    }
    if (client == nullptr) return;
    absl::StatusOr<bool> r = client->ReportSuccess(round);
    LogDebug("report success: ", r.status().ToString());
    if (!r.ok() && r.status().code() != absl::StatusCode::kAborted &&
        r.status().code() != absl::StatusCode::kFailedPrecondition) {
      CoordinatorEvent e;
      e.kind = Kind::kFatal;
      e.message = absl::StrCat("could not report success to the rendezvous at ", server_address_,
                               ": ", r.status().message());
      Post(std::move(e));
    }
  });
}

void RdzvCoordinator::Leave(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (client_ == nullptr || server_lost_) return;
  absl::Status s = client_->Leave(reason);
  if (!s.ok()) LogWarning("leaving the rendezvous: ", s.message());
}

void RdzvCoordinator::Finish() {
  LogDebug("finish");
  rdzv::RendezvousClient* client;
  std::vector<std::string> others;
  bool lost;
  {
    absl::MutexLock lock(&mu_);
    client = client_.get();
    lost = server_lost_;
    for (const std::string& id : last_members_) {
      if (id != options_.node_id) others.push_back(id);
    }
  }
  if (client != nullptr && !lost && server_ != nullptr) {
    // The exit barrier: keep serving until every other node has closed its session. A
    // node closes it in Finish, after it saw the run's end on that session, or by dying;
    // so nobody still waiting for the end finds the rendezvous gone. Bounded: a hung node
    // never closes.
    const absl::Time deadline = absl::Now() + options_.exit_barrier_timeout;
    for (;;) {
      const std::vector<std::string> connected = server_->ConnectedNodes();
      const bool waiting = std::any_of(others.begin(), others.end(), [&](const std::string& id) {
        return std::find(connected.begin(), connected.end(), id) != connected.end();
      });
      if (!waiting) break;
      if (absl::Now() >= deadline) {
        LogDebug("exit barrier: gave up after ",
                 absl::FormatDuration(options_.exit_barrier_timeout));
        break;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  if (client != nullptr) client->Close();
  if (server_ != nullptr) server_->Shutdown();
}

void RdzvCoordinator::Shutdown() {
  bool busy;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    busy = busy_;
  }
  if (watchdog_.joinable()) watchdog_.join();  // at most one status call away
  if (worker_.joinable()) {
    if (busy) {
      worker_.detach();  // blocked in a call; the process is about to exit
    } else {
      worker_.join();
    }
  }
}

}  // namespace fabric::launcher
