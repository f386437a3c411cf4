// LocalCoordinator: the Coordinator of a single-node job. It plays the rendezvous's part
// for one node, so the agent runs one loop (agent_loop.cc) whatever the node count:
//   RequestPlan    -> kPlan for attempt `restart` (PlanLocalAttempt: ranks 0..devices-1,
//                     a MASTER_PORT verified free and never used by an earlier attempt),
//                     or kFatal (exit 1) when no plan can be made;
//   ReportFailure  -> kRoundChanged (the next attempt) while the restart budget lasts and
//                     the failure is retryable, else kRunFailed with the root cause's
//                     exit status (its code, 128 + its signal; 127/126 for a spawn error);
//   ReportSuccess  -> kRunSucceeded.
// Leave and Finish have nothing to tell anyone. A round is an attempt: round r is the
// plan with restart_count r (FABRIC_ROUND, as PlanLocalAttempt sets it).
//
// Thread safety: like every Coordinator, calls may come from any thread (one mutex);
// event_fd() is an eventfd, readable while events are queued.
#ifndef FABRIC_LAUNCHER_LOCAL_COORDINATOR_H_
#define FABRIC_LAUNCHER_LOCAL_COORDINATOR_H_

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "launcher/coordinator.h"
#include "launcher/options.h"

namespace fabric::launcher {

class LocalCoordinator final : public Coordinator {
 public:
  // `options` must describe one node (max_nodes <= 1). Internal for an eventfd error.
  static absl::StatusOr<std::unique_ptr<LocalCoordinator>> Create(LaunchOptions options,
                                                                  std::string run_id);
  ~LocalCoordinator() override;

  int event_fd() const override { return event_fd_; }
  std::vector<CoordinatorEvent> TakeEvents() override;
  void RequestPlan() override;
  void ReportFailure(const NodePlacement& plan, const LocalFailure& failure) override;
  void ReportSuccess(const NodePlacement& plan) override;
  void Leave(const std::string& reason) override {}
  void Finish() override {}

 private:
  LocalCoordinator(LaunchOptions options, std::string run_id, int event_fd)
      : options_(std::move(options)), run_id_(std::move(run_id)), event_fd_(event_fd) {}
  void Push(CoordinatorEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LaunchOptions options_;
  const std::string run_id_;
  const int event_fd_;
  absl::Mutex mu_;
  int restart_ ABSL_GUARDED_BY(mu_) = 0;           // the attempt the next plan is for
  bool decided_ ABSL_GUARDED_BY(mu_) = false;      // this attempt's outcome is known
  bool ended_ ABSL_GUARDED_BY(mu_) = false;        // a terminal event was queued
  std::set<int> used_ports_ ABSL_GUARDED_BY(mu_);  // earlier attempts' MASTER_PORTs
  std::deque<CoordinatorEvent> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_LOCAL_COORDINATOR_H_
