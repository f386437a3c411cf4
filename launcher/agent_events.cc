// The agent's event log records (launcher/event_log.h; names and keys: doc/events.md).
// Each function turns what the agent saw into one record; none decides anything.
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "launcher/agent.h"
#include "launcher/agent_metrics.h"

namespace fabric::launcher {
namespace {

using Json = nlohmann::ordered_json;

// The keys a worker's records share (torchelastic's names where it has them).
Json WorkerKeys(const NodePlacement& plan, int global_rank, int local_rank, pid_t pid) {
  return Json{{"global_rank", global_rank},
              {"local_rank", local_rank},
              {"group_rank", plan.node_rank},
              {"worker_id", static_cast<int64_t>(pid)},
              {"role", "default"},
              {"restart_count", plan.restart_count}};
}

void AddExit(const ExitStatus& status, Json* j) {
  (*j)["state"] = status.success() ? "SUCCEEDED" : "FAILED";
  (*j)["exit_code"] = status.signal != 0 ? Json(nullptr) : Json(status.code);
  (*j)["signal"] = status.signal != 0 ? Json(SignalName(status.signal)) : Json(nullptr);
  (*j)["description"] = status.Describe();
}

const char* EndName(GangEnd end) {
  switch (end) {
    case GangEnd::kSucceeded: return "succeeded";
    case GangEnd::kWorkerFailed: return "worker_failed";
    case GangEnd::kInterrupted: return "interrupted";
    case GangEnd::kSpawnFailed: return "spawn_failed";
  }
  return "unknown";
}

}  // namespace

absl::Status Agent::OpenEventLog() {
  std::vector<std::string> paths;
  if (!options_.launch.events_file.empty()) paths.push_back(options_.launch.events_file);
  if (!options_.launch.log_dir.empty()) {
    const std::string dir = absl::StrCat(options_.launch.log_dir, "/", run_id_);
    FABRIC_RETURN_IF_ERROR(MakeDirs(dir, "log directory"));
    paths.push_back(absl::StrCat(dir, "/events.jsonl"));
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  FABRIC_ASSIGN_OR_RETURN(events_, EventLog::Open(paths, clock_, run_id_, host));
  return absl::OkStatus();
}

void Agent::RecordPlan(const NodePlacement& plan, bool restart) {
  events_->set_node_rank(plan.node_rank);
  if (join_started_.has_value()) {
    metrics_.Observe(kMetricJoinSeconds, {},
                     absl::ToDoubleSeconds(clock_->TimeNow() - *join_started_));
    join_started_.reset();
  }
  if (restart) {
    metrics_.Add(kMetricRestarts);
    events_->Record("fabric.restart", {{"restart_count", plan.restart_count},
                                       {"max_restarts", plan.max_restarts},
                                       {"round", plan.round}});
  }
  events_->Record("fabric.rendezvous.round", {{"round", plan.round},
                                              {"restart_count", plan.restart_count},
                                              {"num_nodes", plan.num_nodes},
                                              {"world_size", plan.world_size},
                                              {"local_world_size", plan.local_world_size},
                                              {"global_rank_base", plan.global_rank_base},
                                              {"master_addr", plan.master_addr},
                                              {"master_port", plan.master_port}});
}

void Agent::RecordCoordinatorEvent(const CoordinatorEvent& x) {
  const bool round_change = x.kind == CoordinatorEvent::Kind::kRoundChanged;
  // A node loss comes with the round change it caused, or with the run's failure when too
  // few nodes are left.
  if (const std::optional<LostNode>& loss = x.lost_node) {
    events_->Record("fabric.node.lost",
                    {{"lost_node_id", loss->node_id},
                     {"lost_node_rank", loss->node_rank >= 0 ? Json(loss->node_rank) : Json()},
                     {"reason", loss->why},
                     {"round", round_change ? Json(x.round) : Json()},
                     {"run_continues", round_change}});
  }
  if (!round_change) return;
  events_->Record("fabric.round.change",
                  {{"round", x.round},
                   {"cause", x.membership_change ? "membership" : "worker_failure"},
                   {"reason", x.message}});
}

void Agent::RecordAttemptStart(const NodePlacement& plan, const Gang& gang) {
  events_->Record("fabric.attempt.start", {{"round", plan.round},
                                           {"restart_count", plan.restart_count},
                                           {"world_size", plan.world_size},
                                           {"local_world_size", plan.local_world_size}});
  const absl::Time now = clock_->TimeNow();
  metrics_.Add(kMetricAttempts);
  if (failed_at_.has_value()) {
    metrics_.Observe(kMetricRestartSeconds, {}, absl::ToDoubleSeconds(now - *failed_at_));
    failed_at_.reset();
  }
  for (const WorkerState& w : gang.workers()) {
    if (w.pid <= 0) continue;
    attempt_.started_at[w.pid] = now;
    events_->Record("fabric.worker.start", WorkerKeys(plan, w.global_rank, w.local_rank, w.pid));
  }
}

void Agent::RecordWorkerExit(const Gang& gang, pid_t pid, const ExitStatus& status) {
  for (const WorkerState& w : gang.workers()) {
    if (w.pid != pid) continue;
    Json j = WorkerKeys(attempt_.plan, w.global_rank, w.local_rank, pid);
    AddExit(status, &j);
    auto it = attempt_.started_at.find(pid);
    j["duration_s"] = it == attempt_.started_at.end()
                          ? Json(nullptr)
                          : Json(absl::ToDoubleSeconds(clock_->TimeNow() - it->second));
    j["stopped_by_agent"] = w.last_signal_sent != 0;
    events_->Record("fabric.worker.exit", std::move(j));
    return;
  }
}

void Agent::RecordReplacement(const Replacement& x) {
  Json j = WorkerKeys(attempt_.plan, x.global_rank, x.local_rank, x.new_pid);
  j["old_worker_id"] = static_cast<int64_t>(x.old_pid);
  j["spare"] = x.spare;
  AddExit(x.status, &j);
  events_->Record(x.spare >= 0 ? "fabric.spare.promoted" : "fabric.worker.replaced", std::move(j));
  metrics_.Add(kMetricReplacements);
  metrics_.Add(kMetricWorkerFailures,
               {{"cause", FailureCause(x.status, /*hung=*/false, /*oom=*/false)}});
  attempt_.started_at[x.new_pid] = clock_->TimeNow();
}

void Agent::RecordHang(int global_rank, pid_t pid, const std::string& reason) {
  metrics_.Add(kMetricHangs);
  events_->Record("fabric.hang", {{"global_rank", global_rank},
                                  {"worker_id", static_cast<int64_t>(pid)},
                                  {"reason", reason},
                                  {"restart_count", attempt_.plan.restart_count}});
}

void Agent::RecordShrink(const NodePlacement& next) {
  events_->Record("fabric.shrink", {{"round", next.round},
                                    {"world_size", next.world_size},
                                    {"global_rank_base", next.global_rank_base}});
}

void Agent::RecordAttemptEnd(const NodePlacement& plan, const GangOutcome& out) {
  Json j{
      {"round", plan.round}, {"restart_count", plan.restart_count}, {"outcome", EndName(out.end)}};
  if (out.end == GangEnd::kWorkerFailed) {
    const WorkerState& root = out.workers[out.root_index];
    j["root_global_rank"] = root.global_rank;
    j["root_worker_id"] = static_cast<int64_t>(root.pid);
    j["root_description"] = out.root_status.Describe();
  }
  if (out.end == GangEnd::kSpawnFailed) j["error"] = std::string(out.spawn_error.message());
  if (out.end != GangEnd::kSucceeded) failed_at_ = clock_->TimeNow();
  events_->Record("fabric.attempt.end", std::move(j));
}

void Agent::RecordFailure(const FailureReportInput& in, const std::string& report) {
  Json j = WorkerKeys(attempt_.plan, in.global_rank, in.local_rank, in.pid);
  AddExit(in.status, &j);
  j["restarting"] = in.restarting;
  j["hang_reason"] = in.hang_reason.empty() ? Json(nullptr) : Json(in.hang_reason);
  j["error_file_message"] =
      in.error_file_message.empty() ? Json(nullptr) : Json(in.error_file_message);
  j["raw_error"] = report;  // the failure report as printed
  events_->Record("fabric.failure", std::move(j));
  const bool oom = in.oom_kills_before.has_value() && in.oom_kills_after.has_value() &&
                   *in.oom_kills_after > *in.oom_kills_before;
  metrics_.Add(kMetricWorkerFailures,
               {{"cause", FailureCause(in.status, !in.hang_reason.empty(), oom)}});
  last_failure_ = absl::StrCat("rank ", in.global_rank, " (pid ", in.pid, ", node ", in.node_rank,
                               ") ", in.status.Describe(),
                               in.hang_reason.empty() ? "" : absl::StrCat(": ", in.hang_reason),
                               oom ? " (the kernel's OOM killer)" : "");
}

int Agent::RecordRunEnd(int exit_code) {
  events_->Record("fabric.run.end", {{"exit_code", exit_code}});
  return exit_code;
}

}  // namespace fabric::launcher
