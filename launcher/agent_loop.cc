// The agent's one loop (Agent::Run), for one node and for many: attempts come from a
// Coordinator (a LocalCoordinator on a single node, the rendezvous otherwise), whose
// events are bridged into the agent's epoll loop through its event_fd().
//
//   ask for a plan -> kPlan -> run the gang (a round change or the run's end pushed
//   meanwhile stops it: SIGTERM, grace, SIGKILL) -> report the outcome -> wait for what
//   the coordinator decides: a new round (ask again), or the run's end (exit).
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/worker_control.h"
#include "launcher/agent.h"
#include "launcher/failure_report.h"
#include "launcher/restart_policy.h"
#include "launcher/stack_summary.h"

namespace fabric::launcher {
namespace {

using Kind = CoordinatorEvent::Kind;

// True when `event` means: the workers of round `round` must stop.
bool StopsRound(const CoordinatorEvent& event, int64_t round) {
  switch (event.kind) {
    case Kind::kPlan: return false;
    case Kind::kRoundChanged: return event.round > round;
    default: return true;
  }
}

std::string Why(const CoordinatorEvent& event) {
  switch (event.kind) {
    case Kind::kRoundChanged:
      return absl::StrCat("round ", event.round, " began (", event.message, ")");
    case Kind::kRunFailed: return "the job failed";
    case Kind::kRunSucceeded: return "the job succeeded";
    default: return event.message;
  }
}

}  // namespace

Agent::LoopHandlers Agent::BetweenAttempts(int* stop) {
  LoopHandlers h;
  h.signal = [this, stop](int s) {
    if (s == SIGCHLD) {
      while (launcher_->ReapAny().has_value()) {
      }
    } else if (sigismember(&options_.ignored_at_start, s) != 1 &&
               ClassifySignal(s) == SignalAction::kStopGang) {
      *stop = s;
      return true;  // no worker to forward it to: the agent leaves
    }
    return false;
  };
  h.coordinator = [this] {
    for (CoordinatorEvent& x : coordinator_->TakeEvents()) {
      RecordCoordinatorEvent(x);
      pending_.push_back(std::move(x));
    }
  };
  return h;
}

bool Agent::WaitCoordinator(CoordinatorEvent* event, int* sig) {
  int stop = 0;
  const LoopHandlers h = BetweenAttempts(&stop);
  for (;;) {
    if (!pending_.empty()) {
      *event = std::move(pending_.front());
      pending_.pop_front();
      return true;
    }
    absl::Status st = Poll(std::nullopt, h);
    if (stop != 0) {
      *sig = stop;
      return false;
    }
    if (!st.ok()) {
      event->kind = Kind::kFatal;
      event->message = std::string(st.message());
      return true;
    }
  }
}

void Agent::OnCoordinatorEvents(Gang& gang) {
  for (CoordinatorEvent& x : coordinator_->TakeEvents()) {
    RecordCoordinatorEvent(x);
    if (MaybeShrinkInPlace(gang, x)) continue;
    const bool stop = StopsRound(x, attempt_.plan.round);
    if (stop && !attempt_.stop_requested && !gang.finished() && !gang.stopping()) {
      attempt_.stop_requested = true;
      if (x.kind == Kind::kFatal) {
        // Said once, now (its message says the workers are stopped); Terminal does not
        // repeat it.
        Say(absl::StrCat("fabric-run: ", x.message, "\n"));
        fatal_said_ = true;
      } else {
        Say(absl::StrCat("fabric-run: ", Why(x), ": stopping this node's workers\n"));
      }
      gang.OnSignal(SIGTERM);
    }
    pending_.push_back(std::move(x));
  }
}

bool Agent::MaybeShrinkInPlace(Gang& gang, const CoordinatorEvent& x) {
  if (!options_.launch.recovery_in_place || local_coordinator_ != nullptr) return false;
  const bool running = !attempt_.stop_requested && !gang.finished() && !gang.stopping();
  if (x.kind == Kind::kRoundChanged && x.membership_change && x.round > attempt_.plan.round &&
      !attempt_.awaiting_shrink_plan && running) {
    // A node came or went and no worker failed: keep the workers, ask for the new plan.
    attempt_.awaiting_shrink_plan = true;
    Say(absl::StrCat("fabric-run: ", Why(x),
                     ": keeping this node's workers running "
                     "(--recovery in-place) and rejoining\n"));
    coordinator_->RequestPlan();
    return true;
  }
  if (x.kind != Kind::kPlan || !attempt_.awaiting_shrink_plan) return false;
  attempt_.awaiting_shrink_plan = false;
  const NodePlacement& next = x.plan;
  if (!running) {  // the workers could not wait for it (AbandonShrink): run it afresh
    next_plan_ = x;
    return true;
  }
  if (!ShrinksInPlace(attempt_.plan, attempt_.rank0_node, next, x.rank0_node)) {
    Say(absl::StrCat("fabric-run: round ", next.round, " has ", next.world_size,
                     " ranks (this node's from ", next.global_rank_base,
                     "): not a shrink around the same rank-0 node; stopping this node's "
                     "workers\n"));
    next_plan_ = x;
    attempt_.stop_requested = true;
    gang.OnSignal(SIGTERM);
    return true;
  }
  std::string failed;
  for (int local = 0; local < next.local_world_size; ++local) {
    const std::string msg =
        EncodeShrink(ShrinkCommand{next.world_size, next.global_rank_base + local});
    if (static_cast<size_t>(local) >= attempt_.control_fifos.size() ||
        write(attempt_.control_fifos[local].get(), msg.data(), msg.size()) !=
            static_cast<ssize_t>(msg.size())) {
      absl::StrAppend(&failed, failed.empty() ? "" : ", ", local);
    }
  }
  if (!failed.empty()) {
    Say(absl::StrCat("fabric-run: could not tell local rank(s) ", failed,
                     " about the new world; stopping this node's workers\n"));
    next_plan_ = x;
    attempt_.stop_requested = true;
    gang.OnSignal(SIGTERM);
    return true;
  }
  RecordShrink(next);
  Say(absl::StrCat("fabric-run: round ", next.round, ": the job shrinks in place to ",
                   next.world_size, " ranks; this node's workers are ranks ", next.global_rank_base,
                   "-", next.global_rank_base + next.local_world_size - 1, "\n"));
  attempt_.plan = next;
  attempt_.rank0_node = x.rank0_node;
  ++attempt_.shrinks_told;
  attempt_.shrink_told_at = clock_->TimeNow();
  return true;
}

void Agent::CheckShrinkTaken(Gang& gang) {
  if (!attempt_.shrink_told_at.has_value()) return;
  if (attempt_.stop_requested || gang.stopping() || gang.finished()) {
    attempt_.shrink_told_at.reset();
    return;
  }
  const absl::Time now = clock_->TimeNow();
  const WorkerState* late = nullptr;
  for (const WorkerState& w : gang.workers()) {
    if (w.status.has_value() || w.pid < 0) continue;  // gone: its exit is handled as any
    std::optional<uint64_t> taken = hang_watch_->ShrinksTaken(w.local_rank);
    if (!taken.has_value() || *taken < static_cast<uint64_t>(attempt_.shrinks_told)) {
      late = &w;
      break;
    }
  }
  if (late == nullptr) {
    Say(absl::StrCat(
        "fabric-run: round ", attempt_.plan.round,
        ": this node's workers re-formed "
        "with ",
        attempt_.plan.world_size, " ranks ",
        absl::FormatDuration(absl::Trunc(now - *attempt_.shrink_told_at, absl::Milliseconds(1))),
        " after the shrink\n"));
    attempt_.shrink_told_at.reset();
    attempt_.shrink_wait.reset();
    return;
  }
  if (now < *attempt_.shrink_told_at + options_.launch.recovery_timeout) {
    if (!attempt_.shrink_wait) attempt_.shrink_wait.emplace(*attempt_.shrink_told_at);
    if (attempt_.shrink_wait->Due(now)) {
      int waiting = 0;
      for (const WorkerState& w : gang.workers()) {
        if (w.status.has_value() || w.pid < 0) continue;
        std::optional<uint64_t> taken = hang_watch_->ShrinksTaken(w.local_rank);
        waiting += !taken.has_value() || *taken < static_cast<uint64_t>(attempt_.shrinks_told);
      }
      Say(absl::StrCat(
          "fabric-run: waiting for ", waiting, " of this node's workers to re-form with ",
          attempt_.plan.world_size, " ranks (first: rank ", late->global_rank, ", pid ", late->pid,
          "); ",
          absl::FormatDuration(absl::Trunc(
              *attempt_.shrink_told_at + options_.launch.recovery_timeout - now, absl::Seconds(1))),
          " of --recovery-timeout left\n"));
    }
    return;
  }
  attempt_.shrink_told_at.reset();
  const std::string what = absl::StrCat(
      "did not re-form with ", attempt_.plan.world_size, " ranks within ",
      absl::FormatDuration(options_.launch.recovery_timeout),
      " (--recovery-timeout) of being told to shrink; still blocked in a collective with the "
      "lost node's ranks? (a partitioned node fails a collective only at its timeout)");
  Say(absl::StrCat("fabric-run: rank ", late->global_rank, " (pid ", late->pid, ") ", what,
                   "; stopping this node's workers and restarting the job\n"));
  LocalFailure f;
  f.global_rank = late->global_rank;
  f.local_rank = late->local_rank;
  f.status = ExitStatus::Signaled(SIGTERM);  // what it gets now
  f.message = what;
  f.in_place_spent = in_place_spent_ + gang.replacements();
  attempt_.failure_reported = true;
  coordinator_->ReportFailure(attempt_.plan, f);
  attempt_.stop_requested = true;
  gang.OnSignal(SIGTERM);
}

void Agent::AbandonShrink(Gang& gang, pid_t pid, ExitStatus status) {
  if (!attempt_.awaiting_shrink_plan || attempt_.stop_requested || gang.stopping() ||
      gang.finished() || status.success()) {
    return;
  }
  for (const WorkerState& w : gang.workers()) {
    if (w.pid != pid) continue;
    Say(absl::StrCat("fabric-run: rank ", w.global_rank, " (pid ", pid, ") ", status.Describe(),
                     " while the job was re-forming without the lost "
                     "node; stopping this node's workers to run the new round afresh\n"));
    attempt_.stop_requested = true;
    gang.OnSignal(SIGTERM);
    return;
  }
}

void Agent::MaybeReportEarly(const Gang& gang, pid_t pid, ExitStatus status,
                             const std::vector<std::unique_ptr<WorkerOutput>>& outputs) {
  if (attempt_.stop_requested || attempt_.user_signal != 0 || attempt_.failure_reported ||
      status.success()) {
    return;
  }
  for (const WorkerState& w : gang.workers()) {
    if (w.pid != pid) continue;
    LocalFailure f;
    f.global_rank = w.global_rank;
    f.local_rank = w.local_rank;
    f.status = status;
    f.in_place_spent = in_place_spent_ + gang.replacements();  // this attempt's too
    if (static_cast<size_t>(w.local_rank) < outputs.size()) {
      const std::vector<std::string> tail = outputs[w.local_rank]->StderrTail();
      for (size_t i = tail.size() > kReportTailLines ? tail.size() - kReportTailLines : 0;
           i < tail.size(); ++i) {
        absl::StrAppend(&f.stderr_tail, tail[i], "\n");
      }
      if (const std::string* why = hang_watch_->HangReason(w.local_rank)) {
        const std::string where =
            SummarizeStack(LastStackDump(outputs[w.local_rank]->StderrTail()));
        f.message = absl::StrCat("hung: ", *why,
                                 "; where: ", where.empty() ? "(it printed no stack)" : where);
      }
    }
    attempt_.failure_reported = true;
    coordinator_->ReportFailure(attempt_.plan, f);
    return;
  }
}

int Agent::Terminal(const CoordinatorEvent& event) {
  switch (event.kind) {
    case Kind::kRunSucceeded: coordinator_->Finish(); return 0;
    case Kind::kRunFailed:
      Say(event.message);
      coordinator_->Finish();
      return event.exit_code;
    default:
      if (!fatal_said_) Say(absl::StrCat("fabric-run: ", event.message, "\n"));
      coordinator_->Finish();
      return event.exit_code != 0 ? event.exit_code : 1;
  }
}

int Agent::Interrupted(int s, const char* when) {
  if (local_coordinator_ != nullptr) {
    Say(absl::StrCat("fabric-run: received ", SignalName(s),
                     ": every worker was stopped; exiting with status ", 128 + s, "\n"));
  } else {
    Say(absl::StrCat("fabric-run: received ", SignalName(s), " ", when,
                     "; leaving the job (exit status ", 128 + s, ")\n"));
  }
  coordinator_->Leave(absl::StrCat("its agent received ", SignalName(s)));
  coordinator_->Finish();
  return 128 + s;
}

int Agent::Requeue() {
  // --requeue-on-signal: every agent leaves the run; the one that was given the
  // requeue action (node 0's, see slurm_launch.h) requeues the SLURM job.
  coordinator_->Leave("its agent is requeueing the job");
  coordinator_->Finish();
  absl::Status st =
      options_.requeue ? options_.requeue() : absl::FailedPreconditionError("no requeue action");
  if (!st.ok()) Say(absl::StrCat("fabric-run: requeue: ", st.message(), "\n"));
  return st.ok() ? 0 : 1;
}

std::optional<int> Agent::Conclude(const NodePlacement& plan, const AttemptResult& result,
                                   std::optional<int64_t> oom_before) {
  const GangOutcome& out = result.outcome;
  for (const WorkerState& w : out.workers) {
    if (w.abandoned) {
      Say(absl::StrCat("fabric-run: rank ", w.global_rank, " (pid ", w.pid,
                       ") did not die after SIGKILL (stuck in the kernel, state D?); "
                       "fabric-run stopped waiting for it\n"));
    }
  }
  if (requeue_.triggered()) return Requeue();
  if (attempt_.user_signal != 0) {
    return Interrupted(attempt_.user_signal, "and stopped every local worker");
  }
  if (attempt_.stop_requested) return std::nullopt;  // the coordinator's decision
  Coordinator& c = *coordinator_;
  LocalFailure f;
  switch (out.end) {
    case GangEnd::kSucceeded: c.ReportSuccess(plan); return std::nullopt;
    case GangEnd::kInterrupted:  // a signal we did not see as a stop signal
      return Interrupted(out.interrupt_signal, "and stopped every local worker");
    case GangEnd::kWorkerFailed: {
      Report(plan, result, plan.restart_count + in_place_spent_ < plan.max_restarts, oom_before);
      if (attempt_.failure_reported) return std::nullopt;
      const WorkerState& root = out.workers[out.root_index];
      f.global_rank = root.global_rank;
      f.local_rank = root.local_rank;
      f.status = out.root_status;
      f.in_place_spent = in_place_spent_;
      attempt_.failure_reported = true;
      break;
    }
    case GangEnd::kSpawnFailed:
      Say(absl::StrCat("fabric-run: ", out.spawn_error.message(), "\n"));
      f.global_rank = plan.global_rank_base;
      f.status = ExitStatus::Exited(SpawnExitCode(out.spawn_error));
      f.message = std::string(out.spawn_error.message());
      f.retryable = false;  // the same exec would fail again
      break;
  }
  c.ReportFailure(plan, f);
  return std::nullopt;
}

int Agent::Run() { return RecordRunEnd(RunRounds()); }

int Agent::RunRounds() {
  Coordinator& c = *coordinator_;
  int restarts_seen = -1;  // the last plan's restart count (-1: none yet)
  CoordinatorEvent ev;
  int sig = 0;
  for (;;) {
    // Plan.
    if (next_plan_.has_value()) {  // a plan taken during the last attempt (shrink refused)
      ev = *std::exchange(next_plan_, std::nullopt);
    } else {
      c.RequestPlan();
      join_started_ = clock_->TimeNow();
      // A round change that arrives before the plan it supersedes (the push and the join's
      // answer travel apart: at 512 nodes a third of them saw round 2 begin before their
      // round-1 plan) is kept, so that the plan's workers are not started for a round
      // that is over; older ones are what this join answers.
      std::optional<CoordinatorEvent> newer;
      for (;;) {
        if (!WaitCoordinator(&ev, &sig)) return Interrupted(sig, "while joining the rendezvous");
        if (ev.kind == Kind::kPlan) break;
        if (ev.kind == Kind::kRoundChanged) {
          if (!newer || ev.round > newer->round) newer = ev;
          continue;
        }
        return Terminal(ev);
      }
      if (newer && newer->round > ev.plan.round) pending_.push_front(*std::move(newer));
    }
    NodePlacement plan = ev.plan;
    RecordPlan(plan, restarts_seen >= 0 && plan.restart_count > restarts_seen);
    restarts_seen = plan.restart_count;
    attempt_ = AttemptState{};  // a new round: nothing of the last one's carries over
    attempt_.plan = plan;
    attempt_.rank0_node = ev.rank0_node;
    // The last attempt's workers let go of their GPUs first (events meanwhile are kept).
    if (!WaitGpusFree(&sig)) return Interrupted(sig, "while waiting for the GPUs to be freed");
    for (const CoordinatorEvent& p : pending_) attempt_.stop_requested |= StopsRound(p, plan.round);
    // Attempt -> outcome -> decision.
    if (!attempt_.stop_requested) {
      std::optional<int64_t> oom_before = ReadCgroupOomKills();
      absl::StatusOr<AttemptResult> result = RunAttempt(plan);
      plan = attempt_.plan;  // the round it ended in (a shrink in place moves it on)
      if (!result.ok()) {
        Say(absl::StrCat("fabric-run: ", result.status().message(), "\n"));
        c.Leave(std::string(result.status().message()));
        c.Finish();
        return 1;
      }
      if (std::optional<int> code = Conclude(plan, *result, oom_before)) return *code;
    }
    // What the coordinator decides next: a newer round, or the end of the run.
    for (; !next_plan_.has_value();) {
      if (!WaitCoordinator(&ev, &sig)) return Interrupted(sig, "while waiting for the other nodes");
      if (ev.kind == Kind::kPlan) {
        // The plan asked for when the workers were kept for a shrink (MaybeShrinkInPlace)
        // that they did not live to take: the next round to run.
        if (std::exchange(attempt_.awaiting_shrink_plan, false)) next_plan_ = ev;
        continue;
      }
      if (ev.kind == Kind::kRoundChanged) {
        if (ev.round <= plan.round) continue;
        if (attempt_.failure_reported && ev.membership_change) {
          // The failure was a consequence (a peer node died): the run goes on, no restart
          // spent, whatever the failure report above said.
          Say(absl::StrCat("fabric-run: ", Why(ev),
                           ": this node's worker failure followed from it; no restart "
                           "spent, starting the workers again\n"));
        }
        break;
      }
      return Terminal(ev);
    }
  }
}

}  // namespace fabric::launcher
