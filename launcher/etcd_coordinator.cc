// EtcdCoordinator (etcd_coordinator.h). The thread's turn: apply what arrived (watch
// batches, the agent's calls), renew the leases when due, write this node's key when it
// joins a round, try the transition etcd_round's Decide calls for (a CAS), and turn the
// record into the agent's events.
#include "launcher/etcd_coordinator.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/endpoint.h"
#include "common/logging.h"
#include "common/net.h"
#include "launcher/join_wait.h"
#include "launcher/rdzv_coordinator.h"

namespace fabric::launcher {
namespace {

namespace rdzv = ::fabric::rendezvous;
using Kind = CoordinatorEvent::Kind;

constexpr absl::Duration kTick = absl::Milliseconds(100);

bool Unreachable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

bool Terminal(rdzv::Phase p) { return p == rdzv::Phase::kSucceeded || p == rdzv::Phase::kFailed; }

std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(100)));
}

std::optional<LostNode> LostNodeIn(const std::string& reason) {
  std::optional<rdzv::NodeLoss> loss = rdzv::FindNodeLoss(reason);
  if (!loss) return std::nullopt;
  return LostNode{loss->node_id, loss->node_rank, loss->why};
}

// Each node's `fabric-run status` JSON, apart from the watched prefix (a status written
// every 2 s by every node must not wake every agent).
std::string StatusPrefix(const std::string& run_id) {
  return absl::StrCat("/fabric-run-status/", run_id, "/");
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCoordinator>> EtcdCoordinator::Create(
    EtcdCoordinatorOptions options) {
  if (options.run_id.empty() || options.node_id.empty()) {
    return absl::InvalidArgumentError("etcd agent: run id and node id must be set");
  }
  rdzv::EtcdOptions eo;
  eo.endpoints = options.launch.etcd_endpoints;
  eo.tls = options.tls;
  absl::StatusOr<std::unique_ptr<rdzv::EtcdClient>> etcd = rdzv::EtcdClient::Create(eo);
  if (!etcd.ok()) return etcd.status();
  std::unique_ptr<EtcdCoordinator> c(new EtcdCoordinator(std::move(options)));
  c->etcd_ = std::move(*etcd);
  c->event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->event_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  return c;
}

EtcdCoordinator::EtcdCoordinator(EtcdCoordinatorOptions options)
    : options_(std::move(options)), prefix_(rdzv::RunPrefix(options_.run_id)) {}

EtcdCoordinator::~EtcdCoordinator() {
  Shutdown();
  if (event_fd_ >= 0) close(event_fd_);
}

std::string EtcdCoordinator::Endpoints() const {
  return absl::StrJoin(options_.launch.etcd_endpoints, ",");
}

absl::Status EtcdCoordinator::Start() {
  const LaunchOptions& lo = options_.launch;
  std::string host, port;
  if (!SplitHostPort(lo.etcd_endpoints.front(), &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rdzv-endpoint '", lo.etcd_endpoints.front(), "' is not HOST:PORT"));
  }
  me_.node_id = options_.node_id;
  me_.local_world_size = lo.devices;
  me_.address = LocalAddressToward(host, port);
  me_.requested_node_rank = lo.node_rank.value_or(-1);
  // etcd that answers too slowly (hundreds of agents starting at once) is waited for,
  // for at most --rdzv-grace, with lines on the wait schedule; one that refuses (nothing
  // listens), a finished run or other settings end the start at once.
  const absl::Time begin = absl::Now();
  WaitSchedule lines(begin);
  for (;;) {
    absl::Status s = Bootstrap();
    if (s.ok()) break;
    const absl::Duration waited = absl::Now() - begin;
    if (s.code() != absl::StatusCode::kDeadlineExceeded || waited >= lo.rdzv_grace) return s;
    if (lease_ != 0) (void)etcd_->RevokeLease(std::exchange(lease_, 0));
    if (lines.Due(absl::Now())) {
      LogProgress("etcd at ", Endpoints(), " answers too slowly (", s.message(),
                  "); trying again, ", Seconds(lo.rdzv_grace - waited), " of --rdzv-grace ",
                  Seconds(lo.rdzv_grace), " left");
    }
    // Spread the retries of many agents (100-600 ms).
    absl::SleepFor(absl::Milliseconds(100 + absl::ToInt64Microseconds(waited) % 500));
  }
  LogInfo("joined run ", options_.run_id, " on etcd at ", Endpoints(), " (",
          options_.tls.enabled() ? "TLS" : "plaintext", ")");
  next_keepalive_ = absl::Now() + lo.keepalive_timeout / 3;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

absl::Status EtcdCoordinator::Bootstrap() {
  const LaunchOptions& lo = options_.launch;
  absl::StatusOr<int64_t> lease = etcd_->GrantLease(lo.keepalive_timeout);
  if (!lease.ok()) {
    return absl::Status(
        lease.status().code() == absl::StatusCode::kDeadlineExceeded
            ? absl::StatusCode::kDeadlineExceeded
            : absl::StatusCode::kUnavailable,
        absl::StrCat(
            "cannot reach etcd at ", Endpoints(), " (--rdzv-endpoint): ", lease.status().message(),
            "; is etcd running there, and are the addresses",
            options_.tls.enabled() ? " and the TLS files (CA, certificate, key)" : "", " right?"));
  }
  lease_ = *lease;
  const std::string round_key = prefix_ + rdzv::kRoundKey;
  for (int attempt = 0; attempt < 8; ++attempt) {
    // The record (and a status request): not the node keys, which only the decider keeps.
    absl::StatusOr<rdzv::EtcdClient::Range> range =
        etcd_->GetRange(round_key, rdzv::PrefixEnd(prefix_));
    if (!range.ok()) return range.status();
    record_.reset();
    for (const rdzv::EtcdKv& kv : range->kvs) ApplyEvent({rdzv::EtcdEvent::Type::kPut, kv});
    if (record_.has_value()) {
      if (Terminal(record_->phase)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "run '", options_.run_id, "' already ", rdzv::PhaseName(record_->phase), " on etcd at ",
            Endpoints(), "; give this job a new --rdzv-id (a finished run's ",
            "record is kept for ", absl::FormatDuration(options_.finished_ttl), ")"));
      }
      if (record_->min_nodes != lo.min_nodes || record_->max_nodes != lo.max_nodes ||
          record_->max_restarts != lo.max_restarts) {
        return absl::FailedPreconditionError(
            absl::StrCat("run '", options_.run_id, "' on etcd has --num-nodes ", record_->min_nodes,
                         ":", record_->max_nodes, " --max-restarts ", record_->max_restarts,
                         ", this node ", lo.min_nodes, ":", lo.max_nodes, " --max-restarts ",
                         lo.max_restarts, "; give every node the same settings"));
      }
      StartWatch(range->revision + 1);
      return absl::OkStatus();
    }
    absl::StatusOr<rdzv::EtcdClient::Range> all = etcd_->GetPrefix(prefix_);
    if (!all.ok()) return all.status();
    bool created_since = false;  // by another node, after the range above
    for (const rdzv::EtcdKv& kv : all->kvs) {
      created_since = created_since || kv.key == round_key;
      if (!absl::StartsWith(kv.key, prefix_ + rdzv::kNodeKeyPrefix) && kv.key != round_key &&
          kv.key != prefix_ + rdzv::kWantKey) {
        return absl::FailedPreconditionError(
            absl::StrCat("etcd key '", kv.key, "' is not fabric-run's; is --rdzv-id '",
                         options_.run_id, "' used by another tool?"));
      }
    }
    if (created_since) continue;
    // The first node of the run: the record, on a run lease every agent renews.
    absl::StatusOr<int64_t> run_lease =
        etcd_->GrantLease(std::max(3 * lo.keepalive_timeout, absl::Seconds(15)));
    if (!run_lease.ok()) return run_lease.status();
    rdzv::RoundRecord r;
    r.min_nodes = lo.min_nodes;
    r.max_nodes = lo.max_nodes;
    r.max_restarts = lo.max_restarts;
    r.run_lease = *run_lease;
    absl::StatusOr<bool> created = etcd_->PutIf(round_key, rdzv::EncodeRecord(r), 0, *run_lease);
    if (!created.ok()) return created.status();
    if (!*created) (void)etcd_->RevokeLease(*run_lease);  // another node was first
  }
  return absl::AbortedError("etcd: the run's record kept changing while this node read it");
}

void EtcdCoordinator::StartWatch(int64_t from_revision) {
  const int generation = ++watch_generation_;
  watch_.reset();  // its batches still queued are dropped by generation
  watch_ = etcd_->WatchRange(
      decider_ ? prefix_ : prefix_ + rdzv::kRoundKey, rdzv::PrefixEnd(prefix_), from_revision,
      [this, generation](const rdzv::EtcdWatchBatch& b) {
        Input in;
        in.kind = Input::Kind::kWatch;
        in.generation = generation;
        in.events = b.events;
        Push(std::move(in));
      },
      [this, generation](const absl::Status& s) {
        Input in;
        in.kind = Input::Kind::kWatchError;
        in.generation = generation;
        in.error = s;
        Push(std::move(in));
      },
      options_.launch.rdzv_grace + options_.launch.keepalive_timeout);
}

void EtcdCoordinator::FindRole(absl::Time now) {
  next_role_try_ = now + absl::Milliseconds(250);  // when this try fails
  const std::string nodes_prefix = prefix_ + rdzv::kNodeKeyPrefix;
  if (my_create_revision_ == 0) {
    absl::StatusOr<std::optional<rdzv::EtcdKv>> mine = etcd_->Get(nodes_prefix + options_.node_id);
    if (!mine.ok() || !mine->has_value()) return;  // etcd down, or the lease went (KeepAlive says)
    my_create_revision_ = (*mine)->create_revision;
  }
  absl::StatusOr<rdzv::EtcdClient::Last> before =
      etcd_->LastCreatedBefore(nodes_prefix, my_create_revision_);
  if (!before.ok()) return;
  if (before->kv.has_value()) {
    // Waits on that key: its deletion is the one that can make this node the oldest.
    const int generation = ++pred_generation_;
    pred_watch_.reset();
    pred_watch_ = etcd_->WatchRange(
        before->kv->key, "", before->revision + 1,
        [this, generation](const rdzv::EtcdWatchBatch& b) {
          for (const rdzv::EtcdEvent& e : b.events) {
            if (e.type != rdzv::EtcdEvent::Type::kDelete) continue;
            Input in;
            in.kind = Input::Kind::kPredGone;
            in.generation = generation;
            Push(std::move(in));
          }
        },
        [this, generation](const absl::Status&) {  // look again (the main watch says more)
          Input in;
          in.kind = Input::Kind::kPredGone;
          in.generation = generation;
          Push(std::move(in));
        },
        options_.launch.rdzv_grace + options_.launch.keepalive_timeout);
    role_known_ = true;
    return;
  }
  // The oldest node key: this node decides. Every key once, then the whole prefix watched
  // from there.
  absl::StatusOr<rdzv::EtcdClient::Range> all = etcd_->GetPrefix(prefix_);
  if (!all.ok()) return;
  pred_watch_.reset();
  nodes_.clear();
  for (const rdzv::EtcdKv& kv : all->kvs) ApplyEvent({rdzv::EtcdEvent::Type::kPut, kv});
  decider_ = true;
  role_known_ = true;
  StartWatch(all->revision + 1);
  LogDebug("etcd: this node decides run ", options_.run_id, "'s transitions (oldest node key)");
}

std::vector<std::string> EtcdCoordinator::JoinedNow() {
  std::vector<std::string> joined;
  if (decider_) {
    for (const auto& [id, n] : nodes_) {
      if (n.left.empty() && n.round == record_->round) joined.push_back(id);
    }
    return joined;
  }
  const std::string nodes_prefix = prefix_ + rdzv::kNodeKeyPrefix;
  absl::StatusOr<rdzv::EtcdClient::Range> range =
      etcd_->GetRange(nodes_prefix, rdzv::PrefixEnd(nodes_prefix), /*keys_only=*/true);
  if (!range.ok()) return joined;
  for (const rdzv::EtcdKv& kv : range->kvs) joined.push_back(kv.key.substr(nodes_prefix.size()));
  return joined;
}

void EtcdCoordinator::Push(Input input) {
  absl::MutexLock lock(&mu_);
  inputs_.push_back(std::move(input));
}

void EtcdCoordinator::Post(CoordinatorEvent event) {
  if (event.kind == Kind::kRunFailed || event.kind == Kind::kRunSucceeded ||
      event.kind == Kind::kFatal) {
    terminal_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof(one));
}

void EtcdCoordinator::PostFatal(const std::string& message) {
  if (terminal_) return;
  CoordinatorEvent e;
  e.kind = Kind::kFatal;
  e.message = message;
  Post(std::move(e));
}

std::vector<CoordinatorEvent> EtcdCoordinator::TakeEvents() {
  uint64_t n;
  (void)!read(event_fd_, &n, sizeof(n));
  absl::MutexLock lock(&mu_);
  std::vector<CoordinatorEvent> out(std::make_move_iterator(events_.begin()),
                                    std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

void EtcdCoordinator::RequestPlan() { Push(Input{Input::Kind::kPlan}); }

void EtcdCoordinator::ReportFailure(const NodePlacement& plan, const LocalFailure& failure) {
  Input in;
  in.kind = Input::Kind::kFailure;
  in.round = plan.round;
  in.failure.node_id = options_.node_id;
  in.failure.node_rank = plan.node_rank;
  in.failure.global_rank = failure.global_rank;
  in.failure.local_rank = failure.local_rank;
  in.failure.exit_code = failure.status.signal != 0 ? -1 : failure.status.code;
  in.failure.signal = failure.status.signal;
  in.failure.message = failure.message;
  in.failure.stderr_tail = failure.stderr_tail;
  Push(std::move(in));
}

void EtcdCoordinator::ReportSuccess(const NodePlacement& plan) {
  Input in;
  in.kind = Input::Kind::kSuccess;
  in.round = plan.round;
  Push(std::move(in));
}

void EtcdCoordinator::Leave(const std::string& reason) {
  Input in;
  in.kind = Input::Kind::kLeave;
  in.reason = reason;
  Push(std::move(in));
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ || stop_; };
  mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(3));
}

void EtcdCoordinator::Finish() {
  Push(Input{Input::Kind::kFinish});
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ || stop_; };
  mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(3));
}

void EtcdCoordinator::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  pred_watch_.reset();
  watch_.reset();
}

void EtcdCoordinator::Loop() {
  for (;;) {
    std::deque<Input> inputs;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !inputs_.empty(); };
      mu_.AwaitWithTimeout(absl::Condition(&ready), kTick);
      if (stop_ || finished_) return;
      inputs.swap(inputs_);
    }
    for (const Input& in : inputs) {
      Apply(in);
      absl::MutexLock lock(&mu_);
      if (finished_) return;
    }
    const absl::Time now = absl::Now();
    if (now >= next_keepalive_) KeepAlive(now);
    ServeStatus(now);
    if (terminal_ || !record_.has_value()) continue;
    if (failure_) TryFailure();
    if (want_plan_ && !Terminal(record_->phase) && me_.round != record_->round) {
      // Joins the round; offers a port free here now as MASTER_PORT, should this node
      // get node rank 0.
      me_.round = record_->round;
      absl::StatusOr<int> port = PickFreePort();
      if (port.ok()) me_.master_port = *port;
      node_dirty_ = true;
    }
    // Until it is in etcd (retried while etcd does not answer).
    if (node_dirty_ && now >= next_node_write_) WriteNode(now);
    if (me_written_ && !role_known_ && now >= next_role_try_) FindRole(now);
    if (decider_) Advance(now);
    Emit(now);
    ReportWaiting(now);
  }
}

void EtcdCoordinator::Apply(const Input& in) {
  switch (in.kind) {
    case Input::Kind::kWatch:
      // A replaced watch's (this node became the decider): the new one replays them.
      if (in.generation != watch_generation_) return;
      for (const rdzv::EtcdEvent& e : in.events) ApplyEvent(e);
      return;
    case Input::Kind::kPredGone:
      // An ending run needs no decider: 255 agents looking again, each with a sorted
      // range, while they all leave, slowed the end's push to the last of them.
      if (in.generation != pred_generation_ || decider_ || terminal_ ||
          (record_.has_value() && Terminal(record_->phase))) {
        return;
      }
      pred_watch_.reset();
      role_known_ = false;
      next_role_try_ = absl::InfinitePast();
      return;
    case Input::Kind::kWatchError:
      if (in.generation != watch_generation_) return;
      PostFatal(absl::StrCat("lost the watch on etcd at ", Endpoints(), ": ", in.error.message(),
                             "; stopped this node's workers"));
      return;
    case Input::Kind::kPlan:
      want_plan_ = true;
      want_since_ = absl::Now();
      wait_lines_.emplace(want_since_);
      return;
    case Input::Kind::kFailure: failure_.emplace(in.round, in.failure); return;
    case Input::Kind::kSuccess:
      me_.succeeded_round = in.round;
      node_dirty_ = true;
      return;
    case Input::Kind::kLeave:
      if (!terminal_) {
        me_.left = in.reason;
        WriteNode(absl::Now());  // one try: this node is going either way
      }
      Cleanup();
      return;
    case Input::Kind::kFinish: Cleanup(); return;
  }
}

void EtcdCoordinator::ApplyEvent(const rdzv::EtcdEvent& e) {
  const std::string& key = e.kv.key;
  if (!absl::StartsWith(key, prefix_)) return;
  const std::string name = key.substr(prefix_.size());
  if (name == rdzv::kWantKey) {
    const bool wanted = e.type == rdzv::EtcdEvent::Type::kPut;
    const bool was_wanted = status_wanted_.exchange(wanted);
    if (wanted && !was_wanted) status_dirty_ = true;  // the latest status, at once
    return;
  }
  if (name == rdzv::kRoundKey) {
    if (e.type == rdzv::EtcdEvent::Type::kDelete) {
      if (record_.has_value() && !Terminal(record_->phase)) {
        PostFatal(absl::StrCat("the run's record on etcd at ", Endpoints(),
                               " is gone (its lease ended: no agent renewed it, or it was "
                               "deleted); stopped this node's workers"));
      }
      return;
    }
    absl::StatusOr<rdzv::RoundRecord> r = rdzv::DecodeRecord(e.kv.value);
    if (!r.ok()) {
      PostFatal(absl::StrCat(key, ": ", r.status().message()));
      return;
    }
    r->mod_revision = e.kv.mod_revision;
    record_ = *std::move(r);
    return;
  }
  if (!absl::StartsWith(name, rdzv::kNodeKeyPrefix)) return;
  const std::string id = name.substr(std::strlen(rdzv::kNodeKeyPrefix));
  if (e.type == rdzv::EtcdEvent::Type::kDelete) {
    nodes_.erase(id);
    if (id == options_.node_id && me_written_ && !terminal_) {
      PostFatal(absl::StrCat(
          "this node's etcd lease expired: no keep-alive reached etcd at ", Endpoints(),
          " for --keepalive-timeout ", Seconds(options_.launch.keepalive_timeout),
          " (agent stopped or cut off), so the others went on without it; stopped its workers"));
    }
    return;
  }
  absl::StatusOr<rdzv::NodeKey> n = rdzv::DecodeNode(e.kv.value);
  if (!n.ok()) {
    LogWarning(key, ": ", n.status().message(), " (ignored)");
    return;
  }
  n->create_revision = e.kv.create_revision;
  nodes_[id] = *std::move(n);
}

void EtcdCoordinator::KeepAlive(absl::Time now) {
  const LaunchOptions& lo = options_.launch;
  next_keepalive_ = now + lo.keepalive_timeout / 3;
  absl::StatusOr<absl::Duration> mine = etcd_->KeepAliveOnce(lease_);
  absl::Status status = mine.status();
  // The run lease: the decider's to renew (its TTL, at least 3 leases' lives, outlasts a
  // decider's loss until its successor takes over).
  if (status.ok() && decider_ && record_.has_value() && record_->run_lease != 0 &&
      !Terminal(record_->phase)) {
    absl::StatusOr<absl::Duration> run = etcd_->KeepAliveOnce(record_->run_lease);
    if (!run.ok() && run.status().code() != absl::StatusCode::kNotFound) status = run.status();
  }
  const absl::Time after = absl::Now();
  if (status.code() == absl::StatusCode::kNotFound && !terminal_) {
    PostFatal(absl::StrCat("this node's etcd lease expired (etcd at ", Endpoints(),
                           " heard no keep-alive for --keepalive-timeout ",
                           Seconds(lo.keepalive_timeout),
                           "), so the others went on without it; stopped its workers"));
    return;
  }
  if (Unreachable(status)) {
    if (etcd_down_since_ == absl::InfiniteFuture()) {
      etcd_down_since_ = now;
      down_lines_.emplace(now);  // lines at 2 s, then at growing intervals
    }
    const absl::Duration down = after - etcd_down_since_;
    if (down >= lo.rdzv_grace) {
      PostFatal(absl::StrCat("etcd at ", Endpoints(), " did not answer for ", Seconds(down),
                             " (--rdzv-grace ", Seconds(lo.rdzv_grace),
                             "): it lost quorum or is unreachable; stopped this node's workers (",
                             status.message(), ")"));
      return;
    }
    if (down_lines_->Due(after)) {
      LogProgress("etcd at ", Endpoints(), " does not answer for ", Seconds(down), " (",
                  status.message(), "); the workers keep running; ", Seconds(lo.rdzv_grace - down),
                  " of --rdzv-grace ", Seconds(lo.rdzv_grace), " left");
    }
    next_keepalive_ = after + std::min(kTick * 5, lo.keepalive_timeout / 3);
    return;
  }
  if (etcd_down_since_ != absl::InfiniteFuture()) {
    LogProgress("etcd at ", Endpoints(), " answers again after ", Seconds(after - etcd_down_since_),
                "; the job goes on");
    etcd_down_since_ = absl::InfiniteFuture();
    down_lines_.reset();
  }
}

void EtcdCoordinator::WriteNode(absl::Time now) {
  absl::StatusOr<int64_t> put =
      etcd_->Put(prefix_ + rdzv::kNodeKeyPrefix + options_.node_id, rdzv::EncodeNode(me_), lease_);
  if (put.ok()) {
    me_written_ = true;
    node_dirty_ = false;
  } else {
    next_node_write_ = now + absl::Milliseconds(250);
    LogDebug("etcd: writing this node's key: ", put.status().ToString());
  }
}

bool EtcdCoordinator::Cas(const rdzv::RoundRecord& next) {
  int64_t lease = record_->run_lease;
  int64_t finished_lease = 0;
  if (Terminal(next.phase)) {
    // A finished run's record outlives the agents for a while, then goes with its lease.
    absl::StatusOr<int64_t> l = etcd_->GrantLease(options_.finished_ttl);
    if (l.ok()) lease = finished_lease = *l;
  }
  absl::StatusOr<bool> won = etcd_->PutIf(prefix_ + rdzv::kRoundKey, rdzv::EncodeRecord(next),
                                          record_->mod_revision, lease);
  if (won.ok() && !*won) {
    // Lost: another agent wrote first; the watch shows its record.
    cas_lost_revision_ = record_->mod_revision;
    if (finished_lease != 0) (void)etcd_->RevokeLease(finished_lease);
  } else if (!won.ok()) {
    // Unknown (no quorum): it may still commit, so its lease stays; trying the same CAS
    // again is safe (if the first one committed, the second's compare fails).
    cas_retry_at_ = absl::Now() + absl::Milliseconds(500);
    LogDebug("etcd: round CAS: ", won.status().ToString());
  }
  return won.ok() && *won;
}

void EtcdCoordinator::TryFailure() {
  const auto& [round, failure] = *failure_;
  if (record_->round != round || record_->phase != rdzv::Phase::kRunning ||
      record_->failure_pending) {
    failure_.reset();  // stale: the round already changed (its event is coming or came)
    return;
  }
  // Wait for the newer record, or a while after an unknown outcome.
  if (record_->mod_revision == cas_lost_revision_ || absl::Now() < cas_retry_at_) return;
  if (Cas(rdzv::AfterFailure(*record_, failure))) failure_.reset();
}

void EtcdCoordinator::Advance(absl::Time now) {
  const rdzv::RoundRecord& r = *record_;
  if (Terminal(r.phase) || r.mod_revision == cas_lost_revision_ || now < cas_retry_at_) return;
  if (r.round != last_call_round_) {
    last_call_round_ = r.round;
    last_call_since_ = absl::InfiniteFuture();
  }
  if (r.phase == rdzv::Phase::kForming) {
    if (rdzv::JoinedCount(r, nodes_) < r.min_nodes) {
      last_call_since_ = absl::InfiniteFuture();
    } else if (last_call_since_ == absl::InfiniteFuture()) {
      last_call_since_ = now;
    }
  }
  const bool over = now - last_call_since_ >= options_.launch.last_call_timeout;
  // A pending failure waits a lease's life (and a second) for a member's loss to show.
  if (!r.failure_pending) {
    pending_since_ = absl::InfiniteFuture();
  } else if (pending_since_ == absl::InfiniteFuture()) {
    pending_since_ = now;
  }
  const bool pending_over =
      now - pending_since_ >= options_.launch.keepalive_timeout + absl::Seconds(1);
  if (std::optional<rdzv::RoundRecord> next = rdzv::Decide(r, nodes_, over, pending_over)) {
    Cas(*next);
  }
}

void EtcdCoordinator::Emit(absl::Time now) {
  const rdzv::RoundRecord& r = *record_;
  if (r.phase == rdzv::Phase::kSucceeded) {
    CoordinatorEvent e;
    e.kind = Kind::kRunSucceeded;
    e.round = r.round;
    Post(std::move(e));
    return;
  }
  if (r.phase == rdzv::Phase::kFailed) {
    const rdzv::WorkerFailure* cause = r.has_root_cause ? &r.root_cause : nullptr;
    CoordinatorEvent e;
    e.kind = Kind::kRunFailed;
    e.round = r.round;
    e.message =
        FormatClusterFailure(options_.run_id, r.reason, cause, r.restart_count, r.max_restarts);
    e.exit_code = ClusterExitCode(cause);
    if (cause == nullptr) e.lost_node = LostNodeIn(r.reason);
    Post(std::move(e));
    return;
  }
  if (!want_plan_ && plan_round_ > 0 && r.round > plan_round_ && changed_round_ < r.round) {
    changed_round_ = r.round;
    CoordinatorEvent e;
    e.kind = Kind::kRoundChanged;
    e.round = r.round;
    e.message = r.reason;
    e.membership_change = !r.has_root_cause;
    if (e.membership_change) e.lost_node = LostNodeIn(r.reason);
    Post(std::move(e));
    return;
  }
  if (!want_plan_) return;
  if (r.phase == rdzv::Phase::kRunning && !node_dirty_ && me_written_ && me_.round == r.round) {
    if (std::optional<rdzv::Assignment> a = rdzv::AssignmentFor(r, options_.node_id)) {
      want_plan_ = false;
      wait_lines_.reset();
      plan_round_ = r.round;
      me_.last_rank = a->node_rank;
      last_members_.clear();
      for (const rdzv::Member& m : r.members) last_members_[m.node_id] = m.node_rank;
      CoordinatorEvent e;
      e.kind = Kind::kPlan;
      e.round = r.round;
      e.plan = rdzv::PlacementOf(*a, options_.run_id);
      e.rank0_node = r.members.front().node_id;
      Post(std::move(e));
      return;
    }
    if (spare_round_ != r.round) {
      spare_round_ = r.round;
      LogInfo("this node waits as a spare: round ", r.round, " runs with --num-nodes' maximum of ",
              r.max_nodes, " nodes");
    }
  }
  if (now - want_since_ > options_.launch.join_timeout && spare_round_ != r.round) {
    PostFatal(absl::StrCat("cannot join the job: ", JoinedNow().size(), " of ",
                           r.min_nodes == r.max_nodes ? "" : "at least ", r.min_nodes,
                           " nodes joined round ", r.round, " on etcd at ", Endpoints(),
                           " within --join-timeout ",
                           absl::FormatDuration(options_.launch.join_timeout)));
  }
}

void EtcdCoordinator::ReportWaiting(absl::Time now) {
  if (!want_plan_ || !wait_lines_ || !wait_lines_->Due(now)) return;
  const rdzv::RoundRecord& r = *record_;
  if (r.phase != rdzv::Phase::kForming) return;
  JoinWait w;
  w.server_address = absl::StrCat("etcd ", Endpoints());
  w.min_nodes = r.min_nodes;
  w.max_nodes = r.max_nodes;
  w.waited = now - want_since_;
  w.join_timeout = options_.launch.join_timeout;
  const std::vector<std::string> joined = JoinedNow();
  w.joined = static_cast<int>(joined.size());
  w.missing = MissingNodes(joined, last_members_, options_.node_id, options_.launch.node_rank,
                           r.min_nodes, r.max_nodes);
  LogProgress(FormatJoinWait(w));
}

void EtcdCoordinator::PublishStatus(std::string node_status) {
  absl::MutexLock lock(&mu_);
  status_to_publish_ = std::move(node_status);
}

void EtcdCoordinator::WantPeerStatuses() {
  absl::MutexLock lock(&mu_);
  want_asked_ = true;
  const bool fresh = absl::Now() < peers_wanted_until_;
  peers_wanted_until_ = absl::Now() + absl::Minutes(1);
  if (!fresh) {  // the first ask in a while: what was fetched before is stale
    peers_.reset();
    fetch_peers_now_ = true;
  }
}

std::optional<std::vector<std::string>> EtcdCoordinator::PeerStatuses() {
  absl::MutexLock lock(&mu_);
  if (absl::Now() >= peers_wanted_until_) return std::nullopt;
  return peers_;
}

void EtcdCoordinator::ServeStatus(absl::Time now) {
  std::optional<std::string> publish;
  bool asked = false, fetch_now = false, wanted = false;
  {
    absl::MutexLock lock(&mu_);
    publish = std::exchange(status_to_publish_, std::nullopt);
    asked = std::exchange(want_asked_, false);
    fetch_now = std::exchange(fetch_peers_now_, false);
    wanted = now < peers_wanted_until_;
  }
  if (publish) {
    latest_status_ = *std::move(publish);
    status_dirty_ = true;
  }
  const std::string prefix = StatusPrefix(options_.run_id);
  if (status_wanted_.load() && status_dirty_ && !latest_status_.empty()) {
    if (etcd_->Put(prefix + options_.node_id, latest_status_, lease_).ok()) status_dirty_ = false;
  }
  constexpr absl::Duration kWantLife = absl::Minutes(1);
  if (asked && now - want_put_at_ >= kWantLife / 2) {
    // Asks every node for its status (again, before the last ask's lease ends); they
    // answer within a loop turn of seeing it.
    absl::StatusOr<int64_t> l = etcd_->GrantLease(kWantLife);
    if (l.ok() && etcd_->Put(prefix_ + rdzv::kWantKey, options_.node_id, *l).ok()) {
      want_put_at_ = now;
      // Every agent builds and writes its status within its 2 s publishing interval.
      next_peer_fetch_ = now + absl::Milliseconds(2500);
      fetch_now = false;
    }
  }
  const bool fetch = wanted && (fetch_now || now >= next_peer_fetch_);
  if (!fetch) return;
  next_peer_fetch_ = now + absl::Seconds(2);
  absl::StatusOr<rdzv::EtcdClient::Range> range = etcd_->GetPrefix(prefix);
  if (!range.ok()) return;
  std::vector<std::string> peers;
  for (const rdzv::EtcdKv& kv : range->kvs) peers.push_back(kv.value);
  absl::MutexLock lock(&mu_);
  peers_ = std::move(peers);
}

void EtcdCoordinator::Cleanup() {
  // This node's key goes with its lease; a finished run's lease holds nothing any more
  // (the decider's to revoke: not 255 revokes of one lease when 256 agents end).
  (void)etcd_->RevokeLease(lease_);
  if (decider_ && record_.has_value() && Terminal(record_->phase) && record_->run_lease != 0) {
    (void)etcd_->RevokeLease(record_->run_lease);
  }
  absl::MutexLock lock(&mu_);
  finished_ = true;
}

}  // namespace fabric::launcher
