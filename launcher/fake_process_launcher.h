// FakeProcessLauncher (testonly): a ProcessLauncher that starts nothing. Spawn()
// hands out increasing pids (or the error set with FailSpawnOf); signals are
// recorded; tests queue exits with Exit() for ReapAny() to return.
#ifndef FABRIC_LAUNCHER_FAKE_PROCESS_LAUNCHER_H_
#define FABRIC_LAUNCHER_FAKE_PROCESS_LAUNCHER_H_

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "launcher/process_launcher.h"

namespace fabric::launcher {

class FakeProcessLauncher final : public ProcessLauncher {
 public:
  struct Signal {
    pid_t pgid;
    int sig;
    bool operator==(const Signal& o) const { return pgid == o.pgid && sig == o.sig; }
  };

  absl::StatusOr<Child> Spawn(const SpawnSpec& spec) override;
  absl::Status SignalGroup(pid_t pgid, int sig) override;
  absl::Status SignalProcess(pid_t pid, int sig) override;
  void ReleaseGroup(pid_t pgid) override { released_.push_back(pgid); }
  std::optional<Reaped> ReapAny() override;
  int KillAdopted() override {
    ++kill_adopted_calls_;
    return 0;
  }
  int kill_adopted_calls() const { return kill_adopted_calls_; }

  // The next Spawn() whose spec.name equals `name` fails with `status`.
  void FailSpawnOf(const std::string& name, absl::Status status) {
    spawn_failures_[name] = std::move(status);
  }
  // Queues an exit of `pid` for ReapAny().
  void Exit(pid_t pid, ExitStatus status) { exits_.push_back(Reaped{pid, status}); }

  const std::vector<SpawnSpec>& spawned() const { return spawned_; }
  const std::vector<pid_t>& pids() const { return pids_; }
  const std::vector<Signal>& signals() const { return signals_; }
  // SignalProcess calls ({pid, sig}: the pgid field holds the pid).
  const std::vector<Signal>& process_signals() const { return process_signals_; }
  const std::vector<pid_t>& released() const { return released_; }
  void ClearSignals() { signals_.clear(); }

 private:
  pid_t next_pid_ = 1000;
  int kill_adopted_calls_ = 0;
  std::vector<SpawnSpec> spawned_;
  std::vector<pid_t> pids_;
  std::vector<Signal> signals_;
  std::vector<Signal> process_signals_;
  std::vector<pid_t> released_;
  std::deque<Reaped> exits_;
  std::map<std::string, absl::Status> spawn_failures_;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_FAKE_PROCESS_LAUNCHER_H_
