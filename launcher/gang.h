// Gang: supervision logic for the local workers of one attempt. Pure: every OS
// effect goes through a ProcessLauncher, time comes from a Clock, and events
// (a worker exited, the agent got a signal, the deadline passed) are fed in by the
// caller (the agent's event loop, or a unit test with fakes).
//
// Rules: the first worker that fails while the gang runs is the root cause; every
// live worker's group then gets SIGTERM, and SIGKILL once the grace period has
// passed. SIGINT/SIGTERM/SIGHUP to the agent are forwarded the same way (a repeated
// one escalates to SIGKILL at once); SIGUSR1/SIGUSR2 are forwarded and change
// nothing. A worker's group is released (leftovers SIGKILLed) as soon as the
// worker is reaped. A worker still not reaped `abandon_after` past its SIGKILL
// (stuck in the kernel) is abandoned, so the agent never hangs on it.
//
// Thread safety: none; use from one thread. Does not own the launcher or clock.
#ifndef FABRIC_LAUNCHER_GANG_H_
#define FABRIC_LAUNCHER_GANG_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "launcher/exit_status.h"
#include "launcher/process_launcher.h"

namespace fabric::launcher {

struct GangWorker {
  int global_rank = 0;
  int local_rank = 0;
  SpawnSpec spec;
};

struct WorkerState {
  int global_rank = 0;
  int local_rank = 0;
  pid_t pid = -1;                    // -1: never started
  pid_t pgid = -1;                   // its process group
  std::optional<ExitStatus> status;  // set once reaped
  int last_signal_sent = 0;          // 0: we never signaled it
  // Still not reaped `abandon_after` past its SIGKILL (e.g. stuck in uninterruptible
  // sleep): the gang stopped waiting for it.
  bool abandoned = false;
};

enum class GangEnd { kSucceeded, kWorkerFailed, kInterrupted, kSpawnFailed };

struct GangOutcome {
  GangEnd end = GangEnd::kSucceeded;
  int root_index = -1;       // kWorkerFailed: index of the root cause in workers
  ExitStatus root_status;    // kWorkerFailed
  int interrupt_signal = 0;  // kInterrupted: the signal the agent received
  absl::Status spawn_error;  // kSpawnFailed
  std::vector<WorkerState> workers;
};

// In-place recovery (fabric-run --recovery in-place): a worker that fails while the gang
// runs is started again alone, the others keep running, while `budget` lasts; not global
// rank 0 (it serves the workers' store) and not when another worker failed less than
// `window` ago (the survivors could not re-form: the gang stops as without it).
//
// Spares (--spares N): processes started with the workers that wait, already loaded,
// until `activate_spare` hands one the failed worker's complete environment; a failed
// worker is taken over by the first live spare, else spawned anew. Spares are stopped
// with the workers and killed once every worker is gone; a spare's own exit changes no
// outcome (it is reported through TakeSpareExits).
struct InPlacePolicy {
  int budget = 0;
  absl::Duration window = absl::Seconds(30);
  // The replacement's spawn spec from the failed worker's (adds the environment that
  // tells the runtime it joins a running job).
  std::function<SpawnSpec(const SpawnSpec&)> replacement_spec;
  // Hands spare `index` (its position in Start's `spares`) the spec it becomes.
  std::function<absl::Status(int index, const SpawnSpec& spec)> activate_spare;
};

// One in-place replacement, for the agent's log and the hang watch.
struct Replacement {
  int global_rank = 0;
  int local_rank = 0;
  pid_t old_pid = -1;
  ExitStatus status;  // how the failed worker ended
  pid_t new_pid = -1;
  int spare = -1;  // the spare that took over (-1: a new process)
};

// A spare that ended while waiting (not after it took over a rank).
struct SpareExit {
  int index = 0;
  pid_t pid = -1;
  ExitStatus status;
};

// What the agent does with a signal it receives.
enum class SignalAction { kIgnore, kForward, kStopGang };
SignalAction ClassifySignal(int sig);

class Gang {
 public:
  Gang(ProcessLauncher* launcher, Clock* clock, absl::Duration grace_period,
       absl::Duration abandon_after = absl::Seconds(10))
      : launcher_(launcher), clock_(clock), grace_(grace_period), abandon_after_(abandon_after) {}
  Gang(const Gang&) = delete;
  Gang& operator=(const Gang&) = delete;

  // Before Start: replace failed workers in place (see InPlacePolicy).
  void EnableInPlace(InPlacePolicy policy) { in_place_ = std::move(policy); }
  // Replacements made since the last call.
  std::vector<Replacement> TakeReplacements() { return std::exchange(new_replacements_, {}); }
  std::vector<SpareExit> TakeSpareExits() { return std::exchange(spare_exits_, {}); }
  // Spares still waiting.
  size_t spares_waiting() const;
  int replacements() const { return replacements_; }

  // Spawns the workers in order. On a spawn failure the workers already started are
  // SIGKILLed, the outcome becomes kSpawnFailed, and the error is returned; the
  // caller still feeds their exits until finished().
  absl::Status Start(std::vector<GangWorker> workers, std::vector<SpawnSpec> spares = {});

  // A child exited. Returns false (and does nothing) when `pid` is not a worker.
  bool OnExit(pid_t pid, ExitStatus status);
  // The agent received `sig`. Ignored once every worker was reaped.
  void OnSignal(int sig);
  // Time passed: sends SIGKILL to live workers once the grace deadline is reached,
  // and abandons those still there `abandon_after` later.
  void OnTimer();

  // When OnTimer() next has something to do; nullopt when nothing is pending.
  std::optional<absl::Time> deadline() const { return deadline_; }
  // Every started worker was reaped (or abandoned).
  bool finished() const;
  bool stopping() const { return stopping_; }
  // REQUIRES: finished().
  GangOutcome outcome() const;
  const std::vector<WorkerState>& workers() const { return states_; }

 private:
  void BeginStop(int sig);
  // In-place recovery: starts worker i again; false when the policy says no or the
  // spawn failed.
  bool MaybeReplace(size_t i);
  // Every worker was reaped or abandoned (spares aside).
  bool WorkersDone() const;
  // SIGKILL to every waiting spare (no worker is left to take over).
  void KillSpares();
  void SignalLive(int sig);
  void KillLive();
  // Start's spawn: a failure ends the gang (kSpawnFailed, what was started is killed).
  absl::StatusOr<Child> SpawnAtStart(const SpawnSpec& spec);

  ProcessLauncher* launcher_;
  Clock* clock_;
  absl::Duration grace_;
  absl::Duration abandon_after_;
  std::vector<WorkerState> states_;
  std::vector<SpawnSpec> specs_;  // by index in states_
  std::optional<InPlacePolicy> in_place_;
  int replacements_ = 0;
  std::optional<absl::Time> last_replacement_;
  std::vector<Replacement> new_replacements_;
  struct Spare {
    int index = 0;
    pid_t pid = -1;
    pid_t pgid = -1;
    bool waiting = true;  // not reaped, not activated
    bool reaped = false;  // reaped while waiting (activated ones become workers)
  };
  std::vector<Spare> spares_;
  std::vector<SpareExit> spare_exits_;
  bool killed_spares_ = false;
  bool stopping_ = false;
  bool killed_ = false;
  std::optional<absl::Time> deadline_;
  GangEnd end_ = GangEnd::kSucceeded;
  int root_index_ = -1;
  int interrupt_signal_ = 0;
  absl::Status spawn_error_;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_GANG_H_
