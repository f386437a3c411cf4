// The agent's Prometheus metrics (fabric-run --metrics-port; names and meanings:
// doc/metrics.md). Counters are bumped where the event log records what happened
// (agent_events.cc), so that both always agree; gauges are set from the status snapshot
// (job_status.h) on every scrape, so that a rank that is gone leaves no series behind.
// Pure: a MetricRegistry in, nothing else.
#ifndef FABRIC_LAUNCHER_AGENT_METRICS_H_
#define FABRIC_LAUNCHER_AGENT_METRICS_H_

#include <string>

#include "common/metrics.h"
#include "launcher/exit_status.h"
#include "launcher/job_status.h"

namespace fabric::launcher {

inline constexpr char kMetricAttempts[] = "fabric_attempts_total";
inline constexpr char kMetricRestarts[] = "fabric_restarts_total";
inline constexpr char kMetricWorkerFailures[] = "fabric_worker_failures_total";  // {cause}
inline constexpr char kMetricHangs[] = "fabric_hangs_total";
inline constexpr char kMetricReplacements[] = "fabric_in_place_replacements_total";
inline constexpr char kMetricJoinSeconds[] = "fabric_rendezvous_join_seconds";
inline constexpr char kMetricRestartSeconds[] = "fabric_restart_seconds";

// Declares every family, in the order they render.
void DeclareAgentMetrics(MetricRegistry& r);

// Sets the gauges (workers running, round, restarts left, per-rank heartbeat age, step,
// step rate, RSS, CPU) from `s`, dropping the per-rank series of the last snapshot.
void SetAgentGauges(const JobStatus& s, MetricRegistry& r);

// The `cause` label of a failed worker: "hang" (stopped by the hang watch), "oom" (the
// kernel's OOM killer, seen in the cgroup), "signal" or "exit_code".
std::string FailureCause(const ExitStatus& status, bool hung, bool oom);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_AGENT_METRICS_H_
