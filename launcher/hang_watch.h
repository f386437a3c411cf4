// HangWatch: the agent's I/O around the Watchdog (launcher/watchdog.h). It serves
// torch's file-timer FIFO, gives every worker a heartbeat file and the Python helper
// module, samples the heartbeats, and stops a hung worker: SIGABRT first, so that it
// prints where it is (Python's faulthandler, which the workers get enabled, or the C++
// runtime's handler), then the stop signal (SIGKILL unless its timer named another)
// `capture_time` later if it is still alive.
//
// Files, all in the agent's private directory `dir`:
//   timer.fifo               TORCHELASTIC_TIMER_FILE (TORCHELASTIC_ENABLE_FILE_TIMER=1)
//   fabric_heartbeat.py      on the workers' PYTHONPATH: `import fabric_heartbeat;
//                            fabric_heartbeat.beat()`, or `beat(step=s, total=n)`
//   attempt_<n>_rank_<r>.beat  FABRIC_HEARTBEAT_FILE: the worker's beats, the shrinks it
//                            took, its step and total steps, in the layout of
//                            common/worker_control.h
// Progress (what `fabric-run status` shows of a rank): each sample of the heartbeat files
// (OnTimer, when heartbeats or timers are watched; SampleProgress, whenever the agent
// calls it) records, on the agent's clock, when a rank's beats last changed, and feeds its
// reported step to a ProgressEstimator (launcher/progress.h). Progress()/AllProgress()
// answer as of the last sample.
// Signals go through the ProcessLauncher seam (to the one worker process, not its group).
// Thread safety: single-threaded, on the agent's loop.
#ifndef FABRIC_LAUNCHER_HANG_WATCH_H_
#define FABRIC_LAUNCHER_HANG_WATCH_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/worker_control.h"
#include "common/worker_env.h"
#include "launcher/process_launcher.h"
#include "launcher/progress.h"
#include "launcher/watchdog.h"

namespace fabric::launcher {

inline constexpr char kEnvEnableFileTimer[] = "TORCHELASTIC_ENABLE_FILE_TIMER";
inline constexpr char kEnvTimerFile[] = "TORCHELASTIC_TIMER_FILE";
inline constexpr char kEnvHeartbeatFile[] = "FABRIC_HEARTBEAT_FILE";

// One rank of the attempt as the last heartbeat sample saw it.
struct RankProgress {
  int local_rank = 0;
  int global_rank = -1;
  pid_t pid = -1;               // -1: not started
  bool heartbeat_file = false;  // false: no file this attempt (the fields below are unset)
  uint64_t beats = 0;
  // When the agent first saw the beats at their current value; nullopt while the rank
  // has not beaten this attempt.
  std::optional<absl::Time> last_beat_change;
  std::optional<uint64_t> step;            // completed steps; nullopt: not reported
  std::optional<uint64_t> total;           // nullopt: unknown
  std::optional<double> steps_per_second;  // launcher/progress.h; nullopt: not measured yet
  std::optional<absl::Duration> eta;       // with a total and a rate above 0
};

class HangWatch {
 public:
  // `say` prints one agent line (e.g. "rank 3 is hung: ...").
  static absl::StatusOr<std::unique_ptr<HangWatch>> Create(
      const std::string& dir, absl::Duration hang_timeout, Clock* clock, ProcessLauncher* launcher,
      std::function<void(const std::string&)> say);
  ~HangWatch();

  // The FIFO's read end, for the agent's epoll set.
  int fifo_fd() const { return fifo_read_; }

  // Pure: the files' names in `dir` (the watch's directory), and the variables above as
  // a worker's environment gets them (its heartbeat file `beat_file`).
  static std::string TimerFifo(const std::string& dir);
  static std::string BeatFile(const std::string& dir, int restart, int local_rank);
  static void AddWorkerEnv(const std::string& dir, const std::string& beat_file, EnvMap* env);
  // Creates local rank `local_rank`'s heartbeat file for the next attempt (before its
  // spawn); the attempt watches it from StartAttempt. An error leaves the rank unwatched
  // by heartbeat (its runtime finds no file and does not beat).
  absl::Status AddBeatFile(int local_rank, const std::string& path);
  // The attempt's workers started: `pids` by local rank (-1: not started).
  void StartAttempt(std::vector<pid_t> pids, std::vector<int> global_ranks);
  // The attempt ended: its heartbeat files are removed.
  void EndAttempt();

  void OnFifoReadable();
  void OnWorkerExit(pid_t pid);
  // A worker replaced in place: `pid` is now local rank `local_rank`'s (watched afresh).
  void OnWorkerReplaced(int local_rank, pid_t pid);
  // While an attempt runs, the heartbeat files are sampled at least every
  // kProgressSampleInterval (OnTimer), so that a rank's heartbeat age is right to within it
  // whenever status asks (a wake-up a second: an 8-byte read per rank).
  static constexpr absl::Duration kProgressSampleInterval = absl::Seconds(1);
  // When OnTimer() must run next.
  std::optional<absl::Time> NextDeadline() const;
  void OnTimer();

  // How many "shrink" lines local rank `local_rank` took and re-formed with (the
  // heartbeat file's second word); nullopt when it has no file this attempt.
  std::optional<uint64_t> ShrinksTaken(int local_rank) const;

  // Reads every rank's heartbeat file now (one pread each) into the progress below;
  // hang detection is not affected (only OnTimer feeds the watchdog). The agent calls it
  // before answering a status request and, for the step rate, about once a second while an
  // attempt runs (OnTimer samples too).
  void SampleProgress();
  // Local rank `local_rank` of this attempt as of the last sample; nullopt when the
  // attempt has no such rank (or none is running).
  std::optional<RankProgress> Progress(int local_rank) const;
  // Every local rank of this attempt, by local rank; empty between attempts.
  std::vector<RankProgress> AllProgress() const;

  // Called once for each worker found hung, before its SIGABRT: its global rank, pid and
  // why (the event log's "fabric.hang").
  void set_on_hang(std::function<void(int, pid_t, const std::string&)> on_hang) {
    on_hang_ = std::move(on_hang);
  }

  // Why this attempt's worker was stopped as hung; nullptr when it was not.
  const std::string* HangReason(int local_rank) const;

 private:
  struct PendingKill {
    pid_t pid;
    int signal;
    absl::Time at;
  };
  HangWatch(std::string dir, absl::Duration hang_timeout, Clock* clock, ProcessLauncher* launcher,
            std::function<void(const std::string&)> say)
      : dir_(std::move(dir)),
        hang_timeout_(hang_timeout),
        clock_(clock),
        launcher_(launcher),
        say_(std::move(say)) {}
  // The heartbeat file's words of local rank `local_rank` (common/worker_control.h).
  std::optional<HeartbeatWords> ReadBeats(int local_rank) const;
  // Records a sample of local rank `local_rank`'s words taken at `now`.
  void Observe(int local_rank, const HeartbeatWords& words, absl::Time now);

  // What the samples saw of one rank this attempt.
  struct Observed {
    bool seen = false;  // a sample with beats > 0 was taken
    uint64_t beats = 0;
    absl::Time changed;
    std::optional<uint64_t> step;
    std::optional<uint64_t> total;
    ProgressEstimator estimator;
  };

  std::string dir_;
  absl::Duration hang_timeout_;
  Clock* clock_;
  ProcessLauncher* launcher_;  // signals to workers (SIGABRT for the stack, then the stop)
  std::function<void(const std::string&)> say_;
  std::function<void(int, pid_t, const std::string&)> on_hang_;
  std::string fifo_path_;
  std::string helper_path_;
  int fifo_read_ = -1;
  int fifo_keep_ = -1;   // a writer of our own: the read end never sees EOF
  std::string partial_;  // an incomplete line from the FIFO
  std::unique_ptr<Watchdog> watchdog_;
  std::vector<pid_t> pids_;
  std::vector<int> global_ranks_;
  std::vector<std::string> beat_paths_;  // this attempt's, by local rank
  std::vector<int> beat_fds_;
  std::vector<PendingKill> kills_;
  std::map<int, std::string> reasons_;  // local rank -> why it was stopped
  std::vector<Observed> observed_;      // this attempt's, by local rank
  absl::Time last_sample_ = absl::InfinitePast();
  absl::Duration capture_time_ = absl::Seconds(1);
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_HANG_WATCH_H_
