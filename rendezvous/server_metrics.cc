#include "rendezvous/server_metrics.h"

#include <algorithm>

namespace fabric::rendezvous {
namespace {

constexpr char kRound[] = "fabric_rendezvous_round";
constexpr char kMembers[] = "fabric_rendezvous_members";
constexpr char kWaiting[] = "fabric_rendezvous_waiting_nodes";
constexpr char kConnected[] = "fabric_rendezvous_connected_nodes";
constexpr char kRestarts[] = "fabric_rendezvous_restarts";
constexpr char kRestartsLeft[] = "fabric_rendezvous_restarts_left";
constexpr char kPhase[] = "fabric_rendezvous_phase";

}  // namespace

void DeclareServerMetrics(MetricRegistry& r) {
  r.DeclareGauge(kRound, "The run's current round.");
  r.DeclareGauge(kMembers, "Nodes in the current round.");
  r.DeclareGauge(kWaiting, "Nodes waiting to join the next round.");
  r.DeclareGauge(kConnected, "Nodes with an open session (keep-alives arriving).");
  r.DeclareGauge(kRestarts, "Restarts of the job used so far.");
  r.DeclareGauge(kRestartsLeft, "Restarts left in the budget (--max-restarts).");
  r.DeclareGauge(kPhase, "1 for the run's phase (forming, running, failed, succeeded), else 0.",
                 /*start_at_zero=*/false);
}

void SetServerGauges(const RunStatus& s, size_t connected, MetricRegistry& r) {
  r.Set(kRound, {}, static_cast<double>(s.round));
  r.Set(kMembers, {}, static_cast<double>(s.members.size()));
  r.Set(kWaiting, {}, static_cast<double>(s.waiting.size()));
  r.Set(kConnected, {}, static_cast<double>(connected));
  r.Set(kRestarts, {}, s.restart_count);
  r.Set(kRestartsLeft, {}, std::max(0, s.max_restarts - s.restart_count));
  for (Phase p : {Phase::kForming, Phase::kRunning, Phase::kFailed, Phase::kSucceeded}) {
    r.Set(kPhase, {{"phase", PhaseName(p)}}, p == s.phase ? 1 : 0);
  }
}

}  // namespace fabric::rendezvous
