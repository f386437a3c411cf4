// ProcessLauncher: the seam between supervision logic and the operating system's
// processes. The posix implementation forks and execs real workers
// (posix_process_launcher.h); FakeProcessLauncher (testonly) records what was asked.
//
// Thread safety: implementations are used from one thread (the agent's event loop).
#ifndef FABRIC_LAUNCHER_PROCESS_LAUNCHER_H_
#define FABRIC_LAUNCHER_PROCESS_LAUNCHER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "launcher/exit_status.h"

namespace fabric::launcher {

struct SpawnSpec {
  std::string name;               // for messages: "rank 3"
  std::vector<std::string> argv;  // argv[0] is a path, or a name searched in PATH
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  int stdin_fd = -1;              // becomes the child's fd 0; -1: inherit
  int stdout_fd = -1;             // becomes the child's fd 1; -1: inherit
  int stderr_fd = -1;             // becomes the child's fd 2; -1: inherit
  // CPU and memory placement (--numa-binding, launcher/numa_binding.h), applied in the
  // child before the exec: the CPUs it may run on (sorted, each < CPU_SETSIZE; empty:
  // inherit the agent's), and the NUMA node its memory comes from by preference
  // (MPOL_PREFERRED; -1: the inherited policy). A node the kernel refuses is ignored
  // (the CPU binding alone keeps first-touch allocations local).
  std::vector<int> cpus;
  int preferred_node = -1;
};

struct Child {
  pid_t pid = -1;
  pid_t pgid = -1;  // every child leads its own process group (pgid == pid)
};

struct Reaped {
  pid_t pid = -1;
  ExitStatus status;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // Starts a process in its own process group that dies with the agent. Returns
  // once the program was exec'd. Errors name the spec and the call:
  // "spawn rank 3: execve /x/y: No such file or directory" (NotFound /
  // PermissionDenied / Internal); no child is left behind on error.
  virtual absl::StatusOr<Child> Spawn(const SpawnSpec& spec) = 0;

  // Sends `sig` to every process in group `pgid`. A group that is already gone is
  // OK (ESRCH). Returns InvalidArgument for pgid <= 1 or the caller's own group.
  virtual absl::Status SignalGroup(pid_t pgid, int sig) = 0;

  // Sends `sig` to the one process `pid` (a worker, not its group: e.g. the SIGABRT that
  // makes only a hung worker print its stack). A process already gone is OK (ESRCH).
  // Returns InvalidArgument for pid <= 1 or the caller itself.
  virtual absl::Status SignalProcess(pid_t pid, int sig) = 0;

  // Kills (SIGKILL) whatever is still in group `pgid` and stops tracking it (the
  // orphan sentinel forgets it). Call once the group's leader was reaped.
  virtual void ReleaseGroup(pid_t pgid) = 0;

  // Reaps one exited child (any child, grandchildren adopted as subreaper
  // included) without blocking. Returns nullopt when none is ready.
  virtual std::optional<Reaped> ReapAny() = 0;

  // Kills (SIGKILL, with their process groups) the processes this agent adopted as
  // subreaper: descendants of workers that left their worker's process group (setsid,
  // setpgid) and outlived it. Call when every worker of an attempt has exited. Returns
  // how many it killed.
  virtual int KillAdopted() = 0;

  // Registers group `pgid`, started on this agent's behalf by a helper of its own (the
  // preload zygote, zygote_process_launcher.h), with the orphan sentinel as Spawn does
  // for its children. REQUIRES: its leader is this agent's child (re-parented to it).
  virtual void TrackGroup(pid_t pgid) {}

  // KillAdopted leaves child `pid` (a helper kept across attempts: the zygote) and its
  // group alone from now on.
  virtual void KeepAcrossAttempts(pid_t pid) {}
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_PROCESS_LAUNCHER_H_
