// Hang detection for the workers of one attempt: pure bookkeeping with the time passed
// in (the agent does the I/O: the timer FIFO, the heartbeat files, the signals).
//
// Two sources, both ending in "this worker is hung, stop it":
//  * torch's file-timer protocol (torch.distributed.elastic.timer.FileTimerClient, used
//    by `with expires(after=...)`): a worker writes one JSON line per acquire/release to
//    the FIFO named by TORCHELASTIC_TIMER_FILE: {"version": 1, "pid": P, "scope_id": S,
//    "expiration_time": T (unix seconds; negative = release), "signal": SIG}. A scope
//    not released by T expires.
//  * heartbeats: each worker's counter (FABRIC_HEARTBEAT_FILE, bumped by the C++ runtime
//    on every step and collective, or by the Python helper's beat()). With a hang timeout
//    D, a worker whose counter has not moved for D after its first beat is hung. A worker
//    that never beats is not watched (it does not use heartbeats).
#ifndef FABRIC_LAUNCHER_WATCHDOG_H_
#define FABRIC_LAUNCHER_WATCHDOG_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fabric::launcher {

// One line of the file-timer FIFO.
struct FileTimerRequest {
  pid_t pid = 0;
  std::string scope_id;
  double expiration_time = 0;  // unix seconds; < 0: release
  int signal = 0;              // <= 0: expire without killing (torch: do not reap)
};

// Parses one JSON line as FileTimerClient writes it (through nlohmann-json). Members
// other than the five are ignored, whatever their type. InvalidArgument naming what is
// wrong for anything else: not JSON, not an object, a missing member or one of the wrong
// type (a bool is not a number), version != 1, a pid that is not an integer in
// [1, 1e9], a non-finite expiration_time, a signal that is not an integer in [-64, 64]
// (the line is then ignored by the agent, with a warning). Never throws.
absl::StatusOr<FileTimerRequest> ParseFileTimerRequest(absl::string_view line);

// A worker found hung.
struct Hang {
  int local_rank = 0;
  pid_t pid = 0;
  // "timer 'scope' expired (set for 2.0 s)" or "no heartbeat for 10s".
  std::string reason;
  int signal = 9;  // what to kill it with after its stack was captured
};

class Watchdog {
 public:
  // `hang_timeout`: zero disables heartbeat watching. `pids` by local rank.
  Watchdog(absl::Duration hang_timeout, std::vector<pid_t> pids, absl::Time start);

  // A file-timer request (acquire or release). Requests from pids that are not this
  // attempt's workers are ignored (returns false).
  bool OnTimerRequest(const FileTimerRequest& request, absl::Time now);
  // A sample of local rank `local_rank`'s heartbeat counter.
  void OnHeartbeat(int local_rank, uint64_t counter, absl::Time now);
  // Stop watching this rank (it exited, or was already found hung).
  void Forget(int local_rank);
  // `pid` replaced this rank's worker in place (--recovery in-place): watched afresh,
  // from its first beat (the heartbeat file is the same).
  void Replace(int local_rank, pid_t pid);

  // When the agent must look again: the earliest timer expiry or heartbeat deadline,
  // and, when heartbeats are watched, the next sampling time (now + period).
  std::optional<absl::Time> NextCheck(absl::Time now) const;
  // How often heartbeat counters are sampled: a quarter of the hang timeout, at most 1 s.
  absl::Duration SamplePeriod() const;
  bool watches_heartbeats() const { return hang_timeout_ > absl::ZeroDuration(); }

  // The workers hung at `now` (each reported once; forgotten afterwards).
  std::vector<Hang> Expired(absl::Time now);

 private:
  struct Timer {
    absl::Time expires;
    absl::Time set_at;
    int signal = 0;
  };
  struct Beat {
    bool seen = false;
    uint64_t counter = 0;
    absl::Time changed;
  };
  int RankOf(pid_t pid) const;

  absl::Duration hang_timeout_;
  std::vector<pid_t> pids_;
  std::vector<bool> forgotten_;
  std::vector<Beat> beats_;
  std::map<std::pair<int, std::string>, Timer> timers_;  // (local rank, scope)
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_WATCHDOG_H_
