// ZygoteProcessLauncher (--preload MODULES): a ProcessLauncher decorator that forks
// Python workers from a per-node zygote which imported MODULES once
// (launcher/fabric_zygote.py), and hands every other spec to the launcher it wraps.
//
// The zygote is started at the first Python spawn (argv: options.python, [-u], a script
// or -m MODULE; zygote_request.h), through the wrapped launcher, with that worker's
// environment: its own process group, parent-death signal, the orphan sentinel, as any
// worker. Its fd 0 is a SOCK_SEQPACKET socket to the agent. Each spawn sends the argv,
// environment, working directory, CPUs and (SCM_RIGHTS) stdin/stdout/stderr; the zygote
// double-forks, so the worker is re-parented to the agent (a child subreaper): the agent
// reaps and signals it exactly as a spawned worker, and its group is registered with the
// sentinel (TrackGroup). Spawn() returns once the worker is the agent's child.
//
// Failure (an import fails or initializes CUDA, the zygote dies or stops answering):
// one line through `say`, the zygote's group is killed and reaped, and every spawn from
// then on (the failed one included) goes to the wrapped launcher. ReapAny() never
// returns the zygote's own exit.
//
// Thread safety: none (the agent's one thread). The wrapped launcher must outlive this.
#ifndef FABRIC_LAUNCHER_ZYGOTE_PROCESS_LAUNCHER_H_
#define FABRIC_LAUNCHER_ZYGOTE_PROCESS_LAUNCHER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "launcher/process_launcher.h"
#include "launcher/zygote_request.h"

namespace fabric::launcher {

struct ZygoteOptions {
  // The interpreter: specs whose argv[0] is exactly this (and whose argv a zygote can run,
  // zygote_request.h) are forked; the zygote runs it too.
  std::string python;
  std::vector<std::string> modules;  // imported once, in this order
  // Where fabric_zygote.py is written (the agent's scratch directory); removed with it.
  std::string script_dir;
  int console_fd = 2;                                 // the zygote's own stdout and stderr
  absl::Duration ready_timeout = absl::Seconds(300);  // for the imports
  absl::Duration reply_timeout = absl::Seconds(30);   // for one fork
  std::function<void(const std::string&)> say;        // a line for the console ("\n" ended)
};

class ZygoteProcessLauncher final : public ProcessLauncher {
 public:
  ZygoteProcessLauncher(ProcessLauncher* base, ZygoteOptions options)
      : base_(base), options_(std::move(options)) {}
  ~ZygoteProcessLauncher() override;  // stops the zygote (and removes its script)
  ZygoteProcessLauncher(const ZygoteProcessLauncher&) = delete;
  ZygoteProcessLauncher& operator=(const ZygoteProcessLauncher&) = delete;

  absl::StatusOr<Child> Spawn(const SpawnSpec& spec) override;
  absl::Status SignalGroup(pid_t pgid, int sig) override { return base_->SignalGroup(pgid, sig); }
  absl::Status SignalProcess(pid_t pid, int sig) override { return base_->SignalProcess(pid, sig); }
  void ReleaseGroup(pid_t pgid) override { base_->ReleaseGroup(pgid); }
  std::optional<Reaped> ReapAny() override;
  int KillAdopted() override { return base_->KillAdopted(); }
  void TrackGroup(pid_t pgid) override { base_->TrackGroup(pgid); }
  void KeepAcrossAttempts(pid_t pid) override { base_->KeepAcrossAttempts(pid); }

  pid_t zygote_pid() const { return zygote_pid_; }  // -1: not running
  bool failed() const { return failed_; }
  int forked() const { return forked_; }  // workers forked so far

 private:
  absl::Status Start(const SpawnSpec& first);
  absl::StatusOr<Child> Fork(const PythonTarget& target, const SpawnSpec& spec);
  // Waits for one message; Unavailable on EOF, DeadlineExceeded after `timeout`.
  absl::StatusOr<std::string> Receive(absl::Duration timeout);
  void Fail(const std::string& why);  // one line; Stop(); spawn normally from now on
  void Stop();

  ProcessLauncher* base_;
  ZygoteOptions options_;
  std::string script_;  // the written fabric_zygote.py
  UniqueFd sock_;
  pid_t zygote_pid_ = -1;
  bool failed_ = false;
  int forked_ = 0;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ZYGOTE_PROCESS_LAUNCHER_H_
