#include "launcher/posix_process_launcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace fabric::launcher {
namespace {

constexpr int kMaxSentinelGroups = 4096;

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT: case ENOTDIR: return absl::NotFoundError(msg);
    case EACCES: case EPERM: return absl::PermissionDeniedError(msg);
    default: return absl::InternalError(msg);
  }
}

// The sentinel's whole life: collect pgids (positive records add, negative
// remove) until EOF, then SIGKILL every group left. Runs in a forked child of a
// single-threaded agent.
[[noreturn]] void SentinelMain(int fd, const char* scratch_dir) {
  // Terminal signals meant for the agent's foreground group must not kill us.
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_NAME, "fabric-sentinel");
  // Hold nothing of the agent's but the pipe: whoever reads fabric-run's output
  // must see EOF when the agent exits.
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
  if (fd > 3) syscall(SYS_close_range, 3u, static_cast<unsigned>(fd - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(fd + 1), ~0u, 0u);
  static pid_t groups[kMaxSentinelGroups];
  int n = 0;
  int32_t rec[64];
  size_t have = 0;
  char* buf = reinterpret_cast<char*>(rec);
  for (;;) {
    ssize_t r = read(fd, buf + have, sizeof(rec) - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += static_cast<size_t>(r);
    size_t whole = have / sizeof(int32_t);
    for (size_t i = 0; i < whole; ++i) {
      int32_t v = rec[i];
      if (v > 0) {
        if (n < kMaxSentinelGroups) groups[n++] = v;
      } else {
        for (int j = 0; j < n; ++j) {
          if (groups[j] == -v) { groups[j] = groups[--n]; break; }
        }
      }
    }
    size_t rest = have - whole * sizeof(int32_t);
    memmove(buf, buf + whole * sizeof(int32_t), rest);
    have = rest;
  }
  for (int j = 0; j < n; ++j) {
    if (groups[j] > 1) kill(-groups[j], SIGKILL);
  }
  if (scratch_dir != nullptr && scratch_dir[0] != '\0') {
    int dfd = open(scratch_dir, O_RDONLY | O_DIRECTORY);
    DIR* d = dfd >= 0 ? fdopendir(dfd) : nullptr;
    if (d != nullptr) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] != '.') unlinkat(dfd, e->d_name, 0);
      }
      closedir(d);
    }
    rmdir(scratch_dir);
  }
  _exit(0);
}

// Resolves argv[0] like execvp would, before fork. Empty when not found.
std::string ResolveProgram(const std::string& prog, const std::vector<std::string>& env) {
  if (prog.find('/') != std::string::npos) return prog;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", prog);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<PosixProcessLauncher>> PosixProcessLauncher::Create(
    const PosixProcessLauncherOptions& options) {
  std::unique_ptr<PosixProcessLauncher> l(new PosixProcessLauncher(options));
  if (options.subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return ErrnoStatus(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  }
  if (options.orphan_sentinel) {
    absl::Status s = l->StartSentinel();
    if (!s.ok()) return s;
  }
  return l;
}

PosixProcessLauncher::~PosixProcessLauncher() {
  if (sentinel_fd_ >= 0) close(sentinel_fd_);
  if (sentinel_pid_ > 0) {
    int st;
    while (waitpid(sentinel_pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

absl::Status PosixProcessLauncher::StartSentinel() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "sentinel pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return ErrnoStatus(err, "fork sentinel");
  }
  if (pid == 0) {
    close(fds[1]);
    SentinelMain(fds[0], options_.remove_on_agent_death.c_str());
  }
  close(fds[0]);
  sentinel_pid_ = pid;
  sentinel_fd_ = fds[1];
  return absl::OkStatus();
}

void PosixProcessLauncher::TellSentinel(int32_t record) {
  if (sentinel_fd_ < 0) return;
  ssize_t r;
  do {
    r = write(sentinel_fd_, &record, sizeof(record));
  } while (r < 0 && errno == EINTR);
  if (r != sizeof(record)) LogWarning("orphan sentinel write failed: ", std::strerror(errno));
}

absl::StatusOr<Child> PosixProcessLauncher::Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError(absl::StrCat("spawn ", spec.name, ": empty argv"));
  const std::string path = ResolveProgram(spec.argv[0], spec.env);
  if (path.empty()) {
    return absl::NotFoundError(absl::StrCat("spawn ", spec.name, ": execve ", spec.argv[0],
                                            ": not found in PATH"));
  }
  // Everything the child touches is prepared here: no allocation after fork.
  std::vector<char*> argv, envp;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) return ErrnoStatus(errno, absl::StrCat("spawn ", spec.name, ": pipe"));
  const pid_t agent = getpid();
  const sigset_t mask = options_.child_sigmask;
  const sigset_t keep_ignored = options_.keep_ignored;
  const int in_fd = spec.stdin_fd, out_fd = spec.stdout_fd, err_fd = spec.stderr_fd;

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(errpipe[0]);
    close(errpipe[1]);
    return ErrnoStatus(err, absl::StrCat("spawn ", spec.name, ": fork"));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != agent) _exit(127);  // the agent died before prctl took effect
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGQUIT, SIGCHLD}) {
      if (sigismember(&keep_ignored, sig) != 1) sigaction(sig, &dfl, nullptr);
    }
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    if (in_fd >= 0 && dup2(in_fd, 0) < 0) {
      int e = errno;
      (void)!write(errpipe[1], &e, sizeof(e));
      _exit(127);
    }
    if (out_fd >= 0 && dup2(out_fd, 1) < 0) {
      int e = errno;
      (void)!write(errpipe[1], &e, sizeof(e));
      _exit(127);
    }
    if (err_fd >= 0 && dup2(err_fd, 2) < 0) {
      int e = errno;
      (void)!write(errpipe[1], &e, sizeof(e));
      _exit(127);
    }
    execve(path.c_str(), argv.data(), envp.data());
    int e = errno;
    (void)!write(errpipe[1], &e, sizeof(e));
    _exit(127);
  }
  // Parent.
  close(errpipe[1]);
  if (setpgid(pid, pid) != 0 && errno != EACCES && errno != ESRCH) {
    LogWarning("spawn ", spec.name, ": setpgid: ", std::strerror(errno));
  }
  TellSentinel(pid);
  int child_errno = 0;
  ssize_t r;
  do {
    r = read(errpipe[0], &child_errno, sizeof(child_errno));
  } while (r < 0 && errno == EINTR);
  close(errpipe[0]);
  if (r == sizeof(child_errno)) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    TellSentinel(-pid);
    return ErrnoStatus(child_errno, absl::StrCat("spawn ", spec.name, ": execve ", path));
  }
  return Child{pid, pid};
}

absl::Status PosixProcessLauncher::SignalGroup(pid_t pgid, int sig) {
  if (pgid <= 1 || pgid == getpgrp()) {
    return absl::InvalidArgumentError(absl::StrCat("refusing to signal process group ", pgid));
  }
  if (kill(-pgid, sig) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, absl::StrCat("kill(-", pgid, ", ", sig, ")"));
  }
  return absl::OkStatus();
}

void PosixProcessLauncher::ReleaseGroup(pid_t pgid) {
  if (pgid > 1 && pgid != getpgrp()) kill(-pgid, SIGKILL);
  TellSentinel(-pgid);
}

std::optional<Reaped> PosixProcessLauncher::ReapAny() {
  for (;;) {
    int st = 0;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return std::nullopt;
    if (pid == sentinel_pid_) {
      LogWarning("the orphan sentinel (pid ", pid, ") exited unexpectedly");
      sentinel_pid_ = -1;
      if (sentinel_fd_ >= 0) close(sentinel_fd_);
      sentinel_fd_ = -1;
      continue;
    }
    return Reaped{pid, ExitStatus::FromWaitStatus(st)};
  }
}

}  // namespace fabric::launcher
