#include "launcher/gang.h"

#include <signal.h>

#include "common/logging.h"

namespace fabric::launcher {

SignalAction ClassifySignal(int sig) {
  switch (sig) {
    case SIGINT:
    case SIGTERM:
    case SIGHUP:
    case SIGQUIT: return SignalAction::kStopGang;
    case SIGUSR1:
    case SIGUSR2: return SignalAction::kForward;
    default: return SignalAction::kIgnore;
  }
}

absl::StatusOr<Child> Gang::SpawnAtStart(const SpawnSpec& spec) {
  absl::StatusOr<Child> child = launcher_->Spawn(spec);
  if (!child.ok()) {
    end_ = GangEnd::kSpawnFailed;
    spawn_error_ = child.status();
    stopping_ = true;
    KillLive();
  }
  return child;
}

absl::Status Gang::Start(std::vector<GangWorker> workers, std::vector<SpawnSpec> spares) {
  states_.clear();
  specs_.clear();
  spares_.clear();
  for (const GangWorker& w : workers) {
    WorkerState st;
    st.global_rank = w.global_rank;
    st.local_rank = w.local_rank;
    absl::StatusOr<Child> child = SpawnAtStart(w.spec);
    if (!child.ok()) return child.status();
    st.pid = child->pid;
    st.pgid = child->pgid;
    states_.push_back(st);
    specs_.push_back(w.spec);
  }
  for (size_t i = 0; i < spares.size(); ++i) {
    absl::StatusOr<Child> child = SpawnAtStart(spares[i]);
    if (!child.ok()) return child.status();
    Spare sp;
    sp.index = static_cast<int>(i);
    sp.pid = child->pid;
    sp.pgid = child->pgid;
    spares_.push_back(sp);
  }
  return absl::OkStatus();
}

size_t Gang::spares_waiting() const {
  size_t n = 0;
  for (const Spare& sp : spares_) n += sp.waiting;
  return n;
}

bool Gang::OnExit(pid_t pid, ExitStatus status) {
  for (Spare& sp : spares_) {
    if (sp.pid != pid || sp.reaped || !sp.waiting) continue;
    sp.waiting = false;
    sp.reaped = true;
    launcher_->ReleaseGroup(sp.pgid);
    if (!killed_spares_ && !stopping_) spare_exits_.push_back(SpareExit{sp.index, pid, status});
    if (finished()) {
      deadline_.reset();
      launcher_->KillAdopted();
    }
    return true;
  }
  for (size_t i = 0; i < states_.size(); ++i) {
    WorkerState& st = states_[i];
    if (st.pid != pid || st.status.has_value() || st.abandoned) continue;
    st.status = status;
    launcher_->ReleaseGroup(st.pgid);
    if (!status.success() && !stopping_ && MaybeReplace(i)) return true;
    if (WorkersDone()) KillSpares();
    if (!status.success() && !stopping_) {
      end_ = GangEnd::kWorkerFailed;
      root_index_ = static_cast<int>(i);
      BeginStop(SIGTERM);
    }
    if (finished()) {
      deadline_.reset();
      // What the workers left outside their process groups (setsid) dies with them.
      launcher_->KillAdopted();
    }
    return true;
  }
  return false;
}

void Gang::OnSignal(int sig) {
  if (finished()) return;  // nothing left to stop; the outcome stands
  switch (ClassifySignal(sig)) {
    case SignalAction::kIgnore: return;
    case SignalAction::kForward: SignalLive(sig); return;
    case SignalAction::kStopGang: break;
  }
  if (end_ == GangEnd::kInterrupted && !killed_) {
    // A repeated interrupt: the user insists; do not wait out the grace period.
    SignalLive(sig);
    KillLive();
    return;
  }
  if (end_ != GangEnd::kSpawnFailed) {
    end_ = GangEnd::kInterrupted;
    interrupt_signal_ = sig;
  }
  if (stopping_) {
    SignalLive(sig);  // forward it anyway; the deadline already runs
    return;
  }
  BeginStop(sig);
}

void Gang::OnTimer() {
  if (!deadline_.has_value() || clock_->TimeNow() < *deadline_) return;
  deadline_.reset();
  if (!killed_) {
    KillLive();
    return;
  }
  for (Spare& sp : spares_) sp.waiting = false;
  for (WorkerState& st : states_) {
    if (st.status.has_value()) continue;
    st.abandoned = true;
    LogWarning("rank ", st.global_rank, " (pid ", st.pid, ") is still there ",
               absl::FormatDuration(abandon_after_), " after SIGKILL; not waiting for it");
  }
}

void Gang::KillLive() {
  killed_ = true;
  SignalLive(SIGKILL);
  if (!finished()) deadline_ = clock_->TimeNow() + abandon_after_;
}

bool Gang::WorkersDone() const {
  for (const WorkerState& st : states_) {
    if (!st.status.has_value() && !st.abandoned) return false;
  }
  return true;
}

bool Gang::finished() const {
  if (!WorkersDone()) return false;
  for (const Spare& sp : spares_) {
    if (sp.waiting) return false;
  }
  return true;
}

void Gang::KillSpares() {
  if (killed_spares_) return;
  killed_spares_ = true;
  bool any = false;
  for (Spare& sp : spares_) {
    if (!sp.waiting) continue;
    launcher_->SignalGroup(sp.pgid, SIGKILL).IgnoreError();
    any = true;
  }
  if (any) {  // one stuck in the kernel is abandoned, as a worker would be
    killed_ = true;
    deadline_ = clock_->TimeNow() + abandon_after_;
  }
}

GangOutcome Gang::outcome() const {
  GangOutcome out;
  out.end = end_;
  out.root_index = root_index_;
  if (root_index_ >= 0) out.root_status = *states_[root_index_].status;
  out.interrupt_signal = interrupt_signal_;
  out.spawn_error = spawn_error_;
  out.workers = states_;
  return out;
}

bool Gang::MaybeReplace(size_t i) {
  if (!in_place_.has_value() || replacements_ >= in_place_->budget) return false;
  WorkerState& st = states_[i];
  if (st.global_rank == 0) return false;
  const absl::Time now = clock_->TimeNow();
  if (last_replacement_.has_value() && now - *last_replacement_ < in_place_->window) {
    return false;
  }
  SpawnSpec spec = in_place_->replacement_spec ? in_place_->replacement_spec(specs_[i]) : specs_[i];
  std::optional<Child> child;
  int from_spare = -1;
  for (Spare& sp : spares_) {
    if (!sp.waiting || !in_place_->activate_spare) continue;
    sp.waiting = false;  // whatever happens, it is no longer a waiting spare
    absl::Status a = in_place_->activate_spare(sp.index, spec);
    if (!a.ok()) {
      LogWarning("spare ", sp.index, " could not take over rank ", st.global_rank, ": ",
                 a.message());
      launcher_->SignalGroup(sp.pgid, SIGKILL).IgnoreError();
      sp.reaped = true;  // its exit is no longer ours to report; ReapAny collects it
      continue;
    }
    child = Child{sp.pid, sp.pgid};
    from_spare = sp.index;
    break;
  }
  if (!child.has_value()) {
    absl::StatusOr<Child> spawned = launcher_->Spawn(spec);
    if (!spawned.ok()) {
      LogWarning("rank ", st.global_rank,
                 ": starting a replacement failed: ", spawned.status().message());
      return false;
    }
    child = *spawned;
  }
  Replacement r;
  r.spare = from_spare;
  r.global_rank = st.global_rank;
  r.local_rank = st.local_rank;
  r.old_pid = st.pid;
  r.status = *st.status;
  r.new_pid = child->pid;
  new_replacements_.push_back(r);
  st.pid = child->pid;
  st.pgid = child->pgid;
  st.status.reset();
  st.last_signal_sent = 0;
  ++replacements_;
  last_replacement_ = now;
  return true;
}

void Gang::BeginStop(int sig) {
  stopping_ = true;
  SignalLive(sig);
  if (!finished()) deadline_ = clock_->TimeNow() + grace_;
}

void Gang::SignalLive(int sig) {
  for (Spare& sp : spares_) {
    if (sp.waiting) launcher_->SignalGroup(sp.pgid, sig).IgnoreError();
  }
  for (WorkerState& st : states_) {
    if (st.status.has_value() || st.abandoned) continue;
    absl::Status s = launcher_->SignalGroup(st.pgid, sig);
    if (!s.ok()) {
      LogWarning("signal rank ", st.global_rank, ": ", s.message());
      continue;
    }
    st.last_signal_sent = sig;
  }
}

}  // namespace fabric::launcher
