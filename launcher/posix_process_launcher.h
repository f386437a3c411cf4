// PosixProcessLauncher: real workers via clone(CLONE_VM | CLONE_VFORK) + execve
// (what posix_spawn does): no page tables are copied and the agent resumes as soon
// as the child has exec'ed, whatever the agent's size.
//
// Each child: setpgid(0,0) (own process group), PR_SET_PDEATHSIG(SIGKILL) and a
// check that the agent is still its parent, default dispositions for the signals
// the agent forwards, the signal mask restored, pipes dup2'ed onto fds 1 and 2,
// execve. The child runs on a stack of its own in the agent's memory while the
// calling thread is suspended (every signal blocked in it meanwhile); it only
// makes system calls through libc wrappers (everything is prepared before clone)
// and an exec error is written into the suspended caller's frame (the child then
// _exit(127)s): Spawn() reaps it and returns the error.
//
// Orphan sentinel: Create() forks a tiny process that holds the read end of a
// pipe from the agent and learns every worker's pgid. When the agent dies (even by
// SIGKILL) the sentinel reads EOF and SIGKILLs every group still registered, which
// also catches grandchildren (PDEATHSIG is not inherited by them). Limit: a
// grandchild that calls setsid()/setpgid() leaves its worker's group and escapes.
//
// Create() also makes the agent a child subreaper, so orphaned grandchildren are
// re-parented to it and reaped by ReapAny().
//
// REQUIRES: the caller has blocked the signals it handles (the child starts with
// `child_sigmask`). Other threads may exist (only the calling thread is suspended
// during a spawn; the child touches no shared state).
// Thread safety: none (one thread calls every method).
#ifndef FABRIC_LAUNCHER_POSIX_PROCESS_LAUNCHER_H_
#define FABRIC_LAUNCHER_POSIX_PROCESS_LAUNCHER_H_

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "launcher/process_launcher.h"

namespace fabric::launcher {

struct PosixProcessLauncherOptions {
  sigset_t child_sigmask;  // the mask workers start with (usually empty)
  // Signals that stay ignored in workers (they were SIG_IGN when fabric-run
  // started, e.g. SIGHUP under nohup); the other handled signals are reset to
  // SIG_DFL in the child.
  sigset_t keep_ignored;
  bool orphan_sentinel = true;
  // A flat directory of the agent's scratch files that the sentinel removes (files,
  // then the directory) when the agent dies; empty: none.
  std::string remove_on_agent_death;
  bool subreaper = true;
};

class PosixProcessLauncher final : public ProcessLauncher {
 public:
  // Starts the sentinel and becomes a subreaper. Returns Internal on failure.
  static absl::StatusOr<std::unique_ptr<PosixProcessLauncher>> Create(
      const PosixProcessLauncherOptions& options);
  ~PosixProcessLauncher() override;  // closes the sentinel pipe (it then exits)
  PosixProcessLauncher(const PosixProcessLauncher&) = delete;
  PosixProcessLauncher& operator=(const PosixProcessLauncher&) = delete;

  absl::StatusOr<Child> Spawn(const SpawnSpec& spec) override;
  absl::Status SignalGroup(pid_t pgid, int sig) override;
  absl::Status SignalProcess(pid_t pid, int sig) override;
  void ReleaseGroup(pid_t pgid) override;
  std::optional<Reaped> ReapAny() override;
  int KillAdopted() override;
  void TrackGroup(pid_t pgid) override;
  void KeepAcrossAttempts(pid_t pid) override { kept_.push_back(pid); }

  pid_t sentinel_pid() const { return sentinel_pid_; }

 private:
  explicit PosixProcessLauncher(const PosixProcessLauncherOptions& options) : options_(options) {}
  absl::Status StartSentinel();
  void TellSentinel(int32_t record);

  PosixProcessLauncherOptions options_;
  pid_t sentinel_pid_ = -1;
  int sentinel_fd_ = -1;            // write end
  void* child_stack_ = nullptr;     // mmap'ed at the first Spawn, reused by every spawn
  std::vector<char*> argv_, envp_;  // scratch for Spawn, kept to reuse their capacity
  std::vector<pid_t> kept_;         // children KillAdopted spares
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_POSIX_PROCESS_LAUNCHER_H_
