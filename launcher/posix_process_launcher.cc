#include "launcher/posix_process_launcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace fabric::launcher {
namespace {

constexpr int kMaxSentinelGroups = 4096;
constexpr size_t kChildStackSize = 64 * 1024;  // the spawned child's stack until execve

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR: return absl::NotFoundError(msg);
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(msg);
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
          if (groups[j] == -v) {
            groups[j] = groups[--n];
            break;
          }
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
  if (child_stack_ != nullptr) munmap(child_stack_, kChildStackSize);
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

namespace {

// What the spawned child reads: all of it prepared by the parent before clone(),
// living on the parent's stack (which the child shares and may read, since the
// parent is suspended until the child execs or exits).
#if defined(__SANITIZE_ADDRESS__)
#define FABRIC_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))
#else
#define FABRIC_NO_SANITIZE_ADDRESS
#endif

struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  pid_t agent;
  sigset_t mask;
  sigset_t keep_ignored;
  int in_fd, out_fd, err_fd;
  const cpu_set_t* cpus;                // null: keep the inherited affinity
  const unsigned long* preferred_mask;  // null: keep the inherited memory policy
  unsigned long mask_bits;
  int err;             // written by the child on failure; read by the parent after clone returns
  const char* failed;  // what failed (the parent names it): "execve", "sched_setaffinity"
};

constexpr int kMpolPreferred = 1;  // <linux/mempolicy.h>'s MPOL_PREFERRED
constexpr int kMaxNumaNodes = 1024;

// The child between clone(CLONE_VM | CLONE_VFORK) and execve: it runs on its own
// stack in the parent's memory, so it only makes system calls through their libc
// wrappers (no allocation, no locks, no stdio) and writes nothing but `a->err`.
// Not instrumented by AddressSanitizer: with CLONE_VM the child's stack poisoning would
// land in the parent's shadow memory and stay there after the exec (the stack is reused
// by the next spawn), a false "stack-use-after-scope".
FABRIC_NO_SANITIZE_ADDRESS int ChildMain(void* arg) {
  ChildArgs* a = static_cast<ChildArgs*>(arg);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != a->agent) _exit(127);  // the agent died before prctl took effect
  // Without CLONE_SIGHAND the child has its own copy of the dispositions.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGQUIT, SIGCHLD}) {
    if (sigismember(&a->keep_ignored, sig) != 1) sigaction(sig, &dfl, nullptr);
  }
  sigprocmask(SIG_SETMASK, &a->mask, nullptr);
  if ((a->in_fd >= 0 && dup2(a->in_fd, 0) < 0) || (a->out_fd >= 0 && dup2(a->out_fd, 1) < 0) ||
      (a->err_fd >= 0 && dup2(a->err_fd, 2) < 0)) {
    a->err = errno;
    a->failed = "dup2";
    _exit(127);
  }
  // --numa-binding: before the exec, so that the program's first allocation is local. The
  // memory preference is advisory (a node the kernel does not know is refused: ignored).
  if (a->cpus != nullptr && sched_setaffinity(0, sizeof(cpu_set_t), a->cpus) != 0) {
    a->err = errno;
    a->failed = "sched_setaffinity";
    _exit(127);
  }
  if (a->preferred_mask != nullptr) {
    syscall(SYS_set_mempolicy, kMpolPreferred, a->preferred_mask, a->mask_bits);
  }
  execve(a->path, a->argv, a->envp);
  a->err = errno != 0 ? errno : EINVAL;
  _exit(127);
}

}  // namespace

absl::StatusOr<Child> PosixProcessLauncher::Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty())
    return absl::InvalidArgumentError(absl::StrCat("spawn ", spec.name, ": empty argv"));
  const std::string path = ResolveProgram(spec.argv[0], spec.env);
  if (path.empty()) {
    return absl::NotFoundError(
        absl::StrCat("spawn ", spec.name, ": execve ", spec.argv[0], ": not found in PATH"));
  }
  if (child_stack_ == nullptr) {
    void* st = mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (st == MAP_FAILED)
      return ErrnoStatus(errno, absl::StrCat("spawn ", spec.name, ": mmap stack"));
    child_stack_ = st;
  }
  // Everything the child touches is prepared here: no allocation after clone.
  argv_.clear();
  envp_.clear();
  for (const std::string& a : spec.argv) argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  for (const std::string& e : spec.env) envp_.push_back(const_cast<char*>(e.c_str()));
  envp_.push_back(nullptr);
  ChildArgs args;
  args.path = path.c_str();
  args.argv = argv_.data();
  args.envp = envp_.data();
  args.agent = getpid();
  args.mask = options_.child_sigmask;
  args.keep_ignored = options_.keep_ignored;
  args.in_fd = spec.stdin_fd;
  args.out_fd = spec.stdout_fd;
  args.err_fd = spec.stderr_fd;
  args.err = 0;
  args.failed = "execve";
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  args.cpus = nullptr;
  for (int cpu : spec.cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(
          absl::StrCat("spawn ", spec.name, ": CPU ", cpu, " is beyond CPU_SETSIZE"));
    }
    CPU_SET(cpu, &cpus);
    args.cpus = &cpus;
  }
  unsigned long node_mask[kMaxNumaNodes / (8 * sizeof(unsigned long))] = {};
  args.preferred_mask = nullptr;
  args.mask_bits = kMaxNumaNodes;
  if (spec.preferred_node >= 0 && spec.preferred_node < kMaxNumaNodes) {
    const size_t bits = 8 * sizeof(unsigned long);
    node_mask[spec.preferred_node / bits] |= 1UL << (spec.preferred_node % bits);
    args.preferred_mask = node_mask;
  }

  // Every signal stays blocked from clone until the child sets its own mask: no
  // handler of the agent may run on the child's stack in the shared memory.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  char* stack_top = static_cast<char*>(child_stack_) + kChildStackSize;
  // CLONE_VFORK: this thread resumes once the child has exec'ed or exited, so the
  // exec error (if any) is in args.err by then; no pipe round trip is needed.
  const pid_t pid = clone(ChildMain, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return ErrnoStatus(clone_errno, absl::StrCat("spawn ", spec.name, ": clone"));
  const int child_errno = *static_cast<volatile int*>(&args.err);
  if (child_errno != 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    const char* failed = *static_cast<const char* volatile*>(&args.failed);
    if (std::strcmp(failed, "execve") != 0) {
      return ErrnoStatus(child_errno, absl::StrCat("spawn ", spec.name, ": ", failed));
    }
    return ErrnoStatus(child_errno, absl::StrCat("spawn ", spec.name, ": execve ", path));
  }
  // The child is in its own group already (setpgid ran before the exec).
  TellSentinel(pid);
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

absl::Status PosixProcessLauncher::SignalProcess(pid_t pid, int sig) {
  if (pid <= 1 || pid == getpid()) {
    return absl::InvalidArgumentError(absl::StrCat("refusing to signal process ", pid));
  }
  if (kill(pid, sig) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, absl::StrCat("kill(", pid, ", ", sig, ")"));
  }
  return absl::OkStatus();
}

void PosixProcessLauncher::TrackGroup(pid_t pgid) {
  if (pgid > 1) TellSentinel(pgid);
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

// This process's children: /proc/self/task/*/children (an orphan is adopted by one of the
// subreaper's threads). O(children), unlike a scan of /proc.
static std::vector<pid_t> OwnChildren() {
  std::vector<pid_t> out;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return out;
  while (dirent* t = readdir(tasks)) {
    if (t->d_name[0] == '.') continue;
    const std::string list =
        ReadFile(absl::StrCat("/proc/self/task/", t->d_name, "/children")).value_or("");
    for (absl::string_view field : absl::StrSplit(list, ' ', absl::SkipEmpty())) {
      pid_t pid = 0;
      if (absl::SimpleAtoi(field, &pid)) out.push_back(pid);
    }
  }
  closedir(tasks);
  return out;
}

int PosixProcessLauncher::KillAdopted() {
  int killed = 0;
  // Killing one may orphan its own children to us: a few passes until none is left.
  for (int pass = 0; pass < 20; ++pass) {
    int found = 0;
    for (pid_t pid : OwnChildren()) {
      if (pid == sentinel_pid_ || std::find(kept_.begin(), kept_.end(), pid) != kept_.end()) {
        continue;
      }
      // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and ')'.
      const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat")).value_or("");
      const size_t close_paren = stat.rfind(')');
      if (close_paren == std::string::npos || close_paren + 2 >= stat.size()) continue;
      std::vector<absl::string_view> f =
          absl::StrSplit(absl::string_view(stat).substr(close_paren + 2), ' ');
      pid_t pgrp = 0;
      if (f.size() < 3 || f[0] == "Z" || !absl::SimpleAtoi(f[2], &pgrp)) continue;
      if (pgrp == pid && pgrp != getpgrp()) kill(-pgrp, SIGKILL);
      kill(pid, SIGKILL);
      ++found;
    }
    if (found == 0) break;
    killed += found;
    usleep(2000);  // let them exit, so that their children reach us
  }
  if (killed > 0) LogWarning("killed ", killed, " process(es) left behind by exited workers");
  return killed;
}

}  // namespace fabric::launcher
