// timed_run: runs one command and timestamps it precisely, for bench/launcher_bench.py.
//
//   timed_run [--marker STR] [--timeout SECS] [--log FILE] -- CMD [ARGS...]
//
// Reads t0 = CLOCK_MONOTONIC, exports it to the command as BENCH_T0_NS, and
// posix_spawns CMD in a new process group with stdout and stderr on one pipe. Every
// output line containing STR (default "BENCH_LINE") is timestamped when it arrives
// (the moment it reached "the console"); all output is copied to FILE when given.
// The command's exit is seen at once through a pidfd (no polling).
//
// Prints, on stdout, one record per line (times are CLOCK_MONOTONIC nanoseconds):
//   t0 NS
//   line NS            one per marker line, in arrival order
//   exit NS STATUS     STATUS: exit code, or 128 + signal
//   timeout NS         instead of exit, when SECS passed: the group got SIGKILL
// Exit status: 0 when the record was written (whatever the command did), 2 for bad
// usage, 1 when the command could not be started.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace {

long long NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int Usage() {
  fprintf(stderr,
          "usage: timed_run [--marker STR] [--timeout SECS] [--log FILE] -- CMD [ARGS...]\n");
  return 2;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string marker = "BENCH_LINE";
  double timeout_s = 300;
  const char* log_path = nullptr;
  int i = 1;
  for (; i < argc; ++i) {
    if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    if (i + 1 >= argc) return Usage();
    if (strcmp(argv[i], "--marker") == 0) {
      marker = argv[++i];
    } else if (strcmp(argv[i], "--timeout") == 0) {
      timeout_s = atof(argv[++i]);
    } else if (strcmp(argv[i], "--log") == 0) {
      log_path = argv[++i];
    } else {
      return Usage();
    }
  }
  if (i >= argc) return Usage();
  char** cmd = argv + i;

  int log_fd = -1;
  if (log_path != nullptr) {
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      perror(log_path);
      return 1;
    }
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    perror("timed_run: pipe2");
    return 1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  // The environment, with BENCH_T0_NS filled in last (just before the spawn).
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "BENCH_T0_NS=", 12) != 0) envp.push_back(*e);
  }
  char t0_var[64];
  envp.push_back(t0_var);
  envp.push_back(nullptr);

  const long long t0 = NowNs();
  snprintf(t0_var, sizeof(t0_var), "BENCH_T0_NS=%lld", t0);
  pid_t pid;
  int rc = posix_spawnp(&pid, cmd[0], &actions, &attr, cmd, envp.data());
  if (rc != 0) {
    fprintf(stderr, "timed_run: spawn %s: %s\n", cmd[0], strerror(rc));
    return 1;
  }
  close(out[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    perror("timed_run: pidfd_open");
    kill(-pid, SIGKILL);
    return 1;
  }

  std::vector<long long> line_times;
  std::string partial;
  const long long deadline = t0 + static_cast<long long>(timeout_s * 1e9);
  long long exit_ns = 0;
  int exit_code = -1;
  bool timed_out = false;
  bool pipe_open = true;
  long long drain_deadline = 0;  // after the exit: wait at most 2 s for EOF
  char buf[65536];
  while (pipe_open || exit_ns == 0) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    const int nfds = exit_ns == 0 ? 2 : 1;
    long long now = NowNs();
    long long until = exit_ns == 0 ? deadline : drain_deadline;
    if (now >= until) {
      if (exit_ns == 0) {
        kill(-pid, SIGKILL);
        timed_out = true;
        int status;
        waitpid(pid, &status, 0);
        exit_ns = NowNs();
      }
      break;
    }
    int wait_ms = static_cast<int>((until - now) / 1000000) + 1;
    if (!pipe_open) fds[0].fd = -1;
    int n = poll(fds, nfds, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("timed_run: poll");
      break;
    }
    if (fds[0].revents != 0) {
      ssize_t got = read(out[0], buf, sizeof(buf));
      const long long arrived = NowNs();
      if (got <= 0) {
        pipe_open = false;
      } else {
        if (log_fd >= 0 && write(log_fd, buf, got) != got) perror("timed_run: log");
        partial.append(buf, got);
        size_t pos;
        while ((pos = partial.find('\n')) != std::string::npos) {
          const size_t hit = partial.find(marker);
          if (hit != std::string::npos && hit < pos) {
            line_times.push_back(arrived);
          }
          partial.erase(0, pos + 1);
        }
      }
    }
    if (exit_ns == 0 && nfds == 2 && fds[1].revents != 0) {
      int status;
      if (waitpid(pid, &status, 0) == pid) {
        exit_ns = NowNs();
        exit_code = ExitCode(status);
        drain_deadline = exit_ns + 2000000000LL;
        kill(-pid, SIGKILL);  // leftovers of the group, if any
      }
    }
  }
  printf("t0 %lld\n", t0);
  for (long long t : line_times) printf("line %lld\n", t);
  if (timed_out) {
    printf("timeout %lld\n", exit_ns);
  } else {
    printf("exit %lld %d\n", exit_ns, exit_code);
  }
  return 0;
}
