// The agent's endpoint (agent.h: OpenEndpoint, Serve, Snapshot): the status socket in its
// private directory and, with --metrics-port, Prometheus' /metrics over TCP. Both are
// served from the agent's one loop, between any two events, so they answer while a worker
// is hung (the agent itself never waits on a worker).
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/net.h"
#include "common/status_macros.h"
#include "common/worker_control.h"
#include "launcher/agent.h"
#include "launcher/agent_metrics.h"
#include "launcher/proc_stats.h"

namespace fabric::launcher {

absl::Status Agent::OpenEndpoint() {
  DeclareAgentMetrics(metrics_);
  HttpServerOptions o;
  o.unix_path = absl::StrCat(scratch_dir_, "/status.sock");
  o.tcp_port = options_.launch.metrics_port;
  auto server = HttpServer::Create(o, [this](const HttpRequest& r) { return Serve(r); });
  if (!server.ok() && o.tcp_port.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--metrics-port: ", server.status().message()));
  }
  if (!server.ok()) {  // only the status socket was asked for: the job runs without it
    LogWarning("no status socket (fabric-run status will not see this job): ",
               server.status().message());
    return absl::OkStatus();
  }
  endpoint_ = *std::move(server);
  if (o.tcp_port.has_value()) {
    Say(absl::StrCat("fabric-run: metrics at http://", LocalHostname(), ":", endpoint_->tcp_port(),
                     "/metrics\n"));
  }
  return Watch(endpoint_->fd(), kEndpointTag);
}

HttpResponse Agent::Serve(const HttpRequest& request) {
  HttpResponse r;
  if (request.path == "/metrics") {
    SetAgentGauges(Snapshot(), metrics_);
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.Render();
  } else if (request.path == "/status" && request.unix_socket) {
    JobStatus s = Snapshot();
    if (local_coordinator_ == nullptr) {  // several nodes: the others' through the rendezvous
      coordinator_->WantPeerStatuses();
      std::optional<std::vector<std::string>> peers = coordinator_->PeerStatuses();
      s.peers_pending = !peers.has_value();
      for (const std::string& p : peers.value_or(std::vector<std::string>{})) {
        absl::StatusOr<JobStatus> peer = DecodeJobStatus(p);
        if (peer.ok() && peer->node_rank != s.node_rank) s.peers.push_back(*std::move(peer));
      }
    }
    r.content_type = "application/json";
    r.body = EncodeJobStatus(s) + "\n";
  } else {
    r.code = 404;
    r.body = request.unix_socket ? "try /status or /metrics\n" : "try /metrics\n";
  }
  return r;
}

void Agent::PublishStatus(bool force) {
  if (local_coordinator_ != nullptr) return;  // one node: nobody else to tell
  const absl::Time now = clock_->TimeNow();
  if (!force && now < next_publish_) return;
  next_publish_ = now + kPublishInterval;
  if (!coordinator_->StatusWanted()) return;  // nobody asks (etcd): no /proc reads for it
  coordinator_->PublishStatus(EncodeJobStatus(Snapshot()));
}

JobStatus Agent::Snapshot() {
  const LaunchOptions& lo = options_.launch;
  const NodePlacement& plan = attempt_.plan;
  JobStatus s;
  s.run_id = run_id_;
  s.backend = local_coordinator_ != nullptr ? "local"
              : lo.rdzv_etcd                ? "etcd"
              : lo.rdzv_endpoint.empty()    ? "embedded"
                                            : "standalone";
  s.hostname = LocalHostname();
  s.agent_pid = getpid();
  s.node_rank = plan.node_rank;
  s.num_nodes = plan.num_nodes;
  s.round = plan.round;
  s.attempt = plan.restart_count;
  s.restarts_used = plan.restart_count + in_place_spent_ + (gang_ ? gang_->replacements() : 0);
  s.max_restarts = lo.max_restarts;
  s.restarts_left = std::max(0, s.max_restarts - s.restarts_used);
  s.recovery = lo.recovery_in_place ? "in-place" : "gang";
  s.world_size = plan.world_size;
  s.last_failure = last_failure_;
  if (gang_ == nullptr) return s;  // between attempts: no workers
  std::set<pid_t> groups;
  for (const WorkerState& w : gang_->workers()) {
    if (w.pgid > 0 && !w.status.has_value()) groups.insert(w.pgid);
  }
  const std::map<pid_t, GroupUsage> usage = ReadGroupUsage(groups, "/proc", getpid());
  hang_watch_->SampleProgress();  // the heartbeat ages and steps as of now
  const absl::Time now = clock_->TimeNow();
  for (const WorkerState& w : gang_->workers()) {
    RankStatus r;
    r.global_rank = w.global_rank;
    r.local_rank = w.local_rank;
    r.node = s.hostname;
    r.pid = w.pid;
    if (w.status.has_value()) {
      r.state = RankState::kExited;
      if (w.status->signal != 0) {
        r.signal = SignalName(w.status->signal);
      } else {
        r.exit_code = w.status->code;
      }
    } else if (hang_watch_->HangReason(w.local_rank) != nullptr) {
      r.state = RankState::kHung;
    } else {
      r.state = w.pid > 0 ? RankState::kRunning : RankState::kStarting;
    }
    if (std::optional<RankProgress> p = hang_watch_->Progress(w.local_rank);
        p.has_value() && p->pid == w.pid) {
      if (p->last_beat_change.has_value()) {  // null: it never beat (not every program does)
        r.heartbeat_age_s = absl::ToDoubleSeconds(now - *p->last_beat_change);
      }
      r.step = p->step;
      r.total_steps = p->total;
      r.step_rate = p->steps_per_second;
      if (p->eta.has_value()) r.eta_s = absl::ToDoubleSeconds(*p->eta);
    }
    const std::string stack_file =
        StackFileFor(HangWatch::BeatFile(scratch_dir_, attempt_.plan.restart_count, w.local_rank));
    struct stat st;
    if (!w.status.has_value() && stat(stack_file.c_str(), &st) == 0) r.stack_file = stack_file;
    if (auto it = usage.find(w.pgid); it != usage.end()) {
      r.rss_bytes = it->second.rss_bytes;
      r.cpu_s = it->second.cpu_s;
    }
    s.ranks.push_back(std::move(r));
  }
  return s;
}

}  // namespace fabric::launcher
