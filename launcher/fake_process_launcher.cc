#include "launcher/fake_process_launcher.h"

namespace fabric::launcher {

absl::StatusOr<Child> FakeProcessLauncher::Spawn(const SpawnSpec& spec) {
  auto it = spawn_failures_.find(spec.name);
  if (it != spawn_failures_.end()) {
    absl::Status s = it->second;
    spawn_failures_.erase(it);
    return s;
  }
  spawned_.push_back(spec);
  pid_t pid = next_pid_++;
  pids_.push_back(pid);
  return Child{pid, pid};
}

absl::Status FakeProcessLauncher::SignalGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return absl::InvalidArgumentError("bad pgid");
  signals_.push_back(Signal{pgid, sig});
  return absl::OkStatus();
}

absl::Status FakeProcessLauncher::SignalProcess(pid_t pid, int sig) {
  if (pid <= 1) return absl::InvalidArgumentError("bad pid");
  process_signals_.push_back(Signal{pid, sig});
  return absl::OkStatus();
}

std::optional<Reaped> FakeProcessLauncher::ReapAny() {
  if (exits_.empty()) return std::nullopt;
  Reaped r = exits_.front();
  exits_.pop_front();
  return r;
}

}  // namespace fabric::launcher
