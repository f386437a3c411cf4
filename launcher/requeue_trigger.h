// RequeueTrigger: the agent's "requeue on a preemption warning" policy
// (--requeue-on-signal, for SLURM's `#SBATCH --signal=USR1@90`).
//
// When the configured signal arrives while the gang runs, the agent forwards it as
// usual (the workers may checkpoint), then gives the workers the grace period to exit
// by themselves; at the deadline it stops the gang (SIGTERM, grace, SIGKILL). Once the
// gang has ended the agent requeues the job instead of restarting, and exits 0.
//
// Pure: time is passed in. Thread safety: none; used from the agent's loop only.
#ifndef FABRIC_LAUNCHER_REQUEUE_TRIGGER_H_
#define FABRIC_LAUNCHER_REQUEUE_TRIGGER_H_

#include <optional>

#include "absl/time/time.h"

namespace fabric::launcher {

class RequeueTrigger {
 public:
  // `signal` 0 disables the trigger (it never fires).
  RequeueTrigger(int signal, absl::Duration grace) : signal_(signal), grace_(grace) {}

  // The agent received `sig` at `now`. Returns true when this starts the requeue (the
  // first `signal`); later ones change nothing.
  bool OnSignal(int sig, absl::Time now);

  // Requeue was requested: do not restart; requeue once the gang has ended.
  bool triggered() const { return deadline_.has_value(); }

  // When the gang must be stopped if it still runs; nullopt when not pending.
  std::optional<absl::Time> deadline() const { return stop_done_ ? std::nullopt : deadline_; }

  // Time passed. Returns true exactly once, at or after the deadline: stop the gang now.
  bool StopDue(absl::Time now);

 private:
  int signal_;
  absl::Duration grace_;
  std::optional<absl::Time> deadline_;
  bool stop_done_ = false;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_REQUEUE_TRIGGER_H_
