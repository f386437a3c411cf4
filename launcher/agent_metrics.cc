#include "launcher/agent_metrics.h"

#include "absl/strings/str_cat.h"

namespace fabric::launcher {
namespace {

constexpr char kWorkersRunning[] = "fabric_workers_running";
constexpr char kRound[] = "fabric_round";
constexpr char kAttempt[] = "fabric_attempt";
constexpr char kRestartsLeft[] = "fabric_restarts_left";
constexpr char kBeatAge[] = "fabric_rank_heartbeat_age_seconds";
constexpr char kStep[] = "fabric_rank_step";
constexpr char kTotal[] = "fabric_rank_total_steps";
constexpr char kRate[] = "fabric_rank_steps_per_second";
constexpr char kEta[] = "fabric_rank_eta_seconds";
constexpr char kRss[] = "fabric_rank_resident_memory_bytes";
constexpr char kCpu[] = "fabric_rank_cpu_seconds";

}  // namespace

void DeclareAgentMetrics(MetricRegistry& r) {
  r.DeclareCounter(kMetricAttempts, "Attempts started on this node (the first one included).");
  r.DeclareCounter(kMetricRestarts, "Restarts of the worker group (attempts after the first).");
  r.DeclareCounter(kMetricWorkerFailures,
                   "Workers that failed on their own, by cause (exit_code, signal, hang, oom).",
                   /*start_at_zero=*/false);
  r.DeclareCounter(kMetricHangs, "Workers the hang watch found hung and stopped.");
  r.DeclareCounter(kMetricReplacements,
                   "Failed workers replaced in place (--recovery in-place), spares included.");
  r.DeclareGauge(kWorkersRunning, "Workers of this node running now.");
  r.DeclareGauge(kRound, "The rendezvous round of the attempt running.");
  r.DeclareGauge(kAttempt, "The restart count of the attempt running (0: the first).");
  r.DeclareGauge(kRestartsLeft, "Restarts left in the budget (--max-restarts).");
  r.DeclareGauge(kBeatAge, "Seconds since the agent saw the rank's last heartbeat.",
                 /*start_at_zero=*/false);
  r.DeclareGauge(kStep, "The step the rank reported last.", /*start_at_zero=*/false);
  r.DeclareGauge(kTotal, "The total steps the rank's trainer announced.", false);
  r.DeclareGauge(kRate, "The rank's recent steps per second.", /*start_at_zero=*/false);
  r.DeclareGauge(kEta, "Seconds until the rank reaches its total steps, at its recent rate.",
                 /*start_at_zero=*/false);
  r.DeclareGauge(kRss, "Resident memory of the rank's process group (from /proc).", false);
  r.DeclareGauge(kCpu, "User + system CPU seconds of the rank's process group.", false);
  // Joins take from milliseconds (one node) to the join timeout; restarts from
  // milliseconds (native workers) to minutes (the grace period, a slow import).
  r.DeclareHistogram(kMetricJoinSeconds, "Time from asking the rendezvous for a round to its plan.",
                     {0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900});
  r.DeclareHistogram(kMetricRestartSeconds,
                     "Time from a failed attempt's end to the next attempt's start.",
                     {0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300});
}

void SetAgentGauges(const JobStatus& s, MetricRegistry& r) {
  int running = 0;
  for (const char* name : {kBeatAge, kStep, kTotal, kRate, kEta, kRss, kCpu}) r.Clear(name);
  for (const RankStatus& x : s.ranks) {
    if (x.state == RankState::kReplaced) continue;  // its successor has the rank's series
    if (x.state == RankState::kRunning || x.state == RankState::kStarting ||
        x.state == RankState::kHung) {
      ++running;
    }
    const MetricLabels rank = {{"rank", absl::StrCat(x.global_rank)}};
    if (x.heartbeat_age_s) r.Set(kBeatAge, rank, *x.heartbeat_age_s);
    if (x.step) r.Set(kStep, rank, static_cast<double>(*x.step));
    if (x.total_steps) r.Set(kTotal, rank, static_cast<double>(*x.total_steps));
    if (x.step_rate) r.Set(kRate, rank, *x.step_rate);
    if (x.eta_s) r.Set(kEta, rank, *x.eta_s);
    if (x.rss_bytes) r.Set(kRss, rank, static_cast<double>(*x.rss_bytes));
    if (x.cpu_s) r.Set(kCpu, rank, *x.cpu_s);
  }
  r.Set(kWorkersRunning, {}, running);
  r.Set(kRound, {}, static_cast<double>(s.round));
  r.Set(kAttempt, {}, s.attempt);
  r.Set(kRestartsLeft, {}, s.restarts_left);
}

std::string FailureCause(const ExitStatus& status, bool hung, bool oom) {
  if (hung) return "hang";
  if (oom) return "oom";
  return status.signal != 0 ? "signal" : "exit_code";
}

}  // namespace fabric::launcher
