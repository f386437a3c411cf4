#include "launcher/local_coordinator.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "launcher/attempt_plan.h"
#include "launcher/restart_policy.h"

namespace fabric::launcher {

using Kind = CoordinatorEvent::Kind;

absl::StatusOr<std::unique_ptr<LocalCoordinator>> LocalCoordinator::Create(LaunchOptions options,
                                                                           std::string run_id) {
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  return std::unique_ptr<LocalCoordinator>(
      new LocalCoordinator(std::move(options), std::move(run_id), fd));
}

LocalCoordinator::~LocalCoordinator() { close(event_fd_); }

void LocalCoordinator::Push(CoordinatorEvent event) {
  ended_ |= event.kind == Kind::kRunSucceeded || event.kind == Kind::kRunFailed ||
            event.kind == Kind::kFatal;
  queue_.push_back(std::move(event));
  const uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof(one));
}

std::vector<CoordinatorEvent> LocalCoordinator::TakeEvents() {
  absl::MutexLock lock(&mu_);
  uint64_t n;
  (void)!read(event_fd_, &n, sizeof(n));
  std::vector<CoordinatorEvent> out(std::make_move_iterator(queue_.begin()),
                                    std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

void LocalCoordinator::RequestPlan() {
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  CoordinatorEvent ev;
  absl::StatusOr<NodePlacement> plan = PlanLocalAttempt(options_, run_id_, restart_, used_ports_);
  if (!plan.ok()) {
    ev.kind = Kind::kFatal;
    ev.message = absl::StrCat("planning attempt ", restart_, ": ", plan.status().message());
    ev.exit_code = 1;
    Push(std::move(ev));
    return;
  }
  used_ports_.insert(plan->master_port);
  decided_ = false;
  ev.kind = Kind::kPlan;
  ev.round = plan->round;
  ev.plan = *std::move(plan);
  Push(std::move(ev));
}

void LocalCoordinator::ReportFailure(const NodePlacement& plan, const LocalFailure& failure) {
  absl::MutexLock lock(&mu_);
  if (ended_ || decided_ || plan.restart_count != restart_) return;  // stale or repeated
  decided_ = true;
  CoordinatorEvent ev;
  const AttemptDecision d = DecideAfterFailure(
      failure.status, failure.retryable, restart_ + failure.in_place_spent, options_.max_restarts);
  if (d.restart) {
    ++restart_;
    ev.kind = Kind::kRoundChanged;
    ev.round = restart_;
    ev.message = absl::StrCat("rank ", failure.global_rank, " failed");
  } else {
    ev.kind = Kind::kRunFailed;
    ev.exit_code = d.exit_code;
  }
  Push(std::move(ev));
}

void LocalCoordinator::ReportSuccess(const NodePlacement& plan) {
  absl::MutexLock lock(&mu_);
  if (ended_ || decided_ || plan.restart_count != restart_) return;
  decided_ = true;
  CoordinatorEvent ev;
  ev.kind = Kind::kRunSucceeded;
  Push(std::move(ev));
}

}  // namespace fabric::launcher
