// spawn_baseline: the floor any launcher is compared with. posix_spawns N copies of
// a command (each with RANK=i, LOCAL_RANK=i, WORLD_SIZE=N and
// TORCHELASTIC_RESTART_COUNT=0 added to the inherited environment, stdout/stderr
// inherited) and waits for all of them. No supervision, no output handling.
//
//   spawn_baseline N CMD [ARGS...]
//
// Exit status: 0 when every copy exited 0, 1 otherwise (or when a spawn failed),
// 2 for bad usage.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace {

// fork + exec, then wait until the child exec'd (EOF on the CLOEXEC pipe) or
// failed (errno on it). Returns 0 or an errno value.
int ForkWait(char** argv, char** envp) {
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) return errno;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    execvpe(argv[0], argv, envp);
    int e = errno;
    (void)!write(errpipe[1], &e, sizeof(e));
    _exit(127);
  }
  close(errpipe[1]);
  int child_errno = 0;
  ssize_t r;
  do {
    r = read(errpipe[0], &child_errno, sizeof(child_errno));
  } while (r < 0 && errno == EINTR);
  close(errpipe[0]);
  return r == sizeof(child_errno) ? child_errno : 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool fork_wait = false;
  if (argc > 1 && strcmp(argv[1], "--fork-wait") == 0) {
    fork_wait = true;
    ++argv;
    --argc;
  }
  if (argc < 3 || atoi(argv[1]) < 1) {
    fprintf(stderr, "usage: spawn_baseline [--fork-wait] N CMD [ARGS...]\n");
    return 2;
  }
  const int n = atoi(argv[1]);
  std::vector<char*> base;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "RANK=", 5) != 0 && strncmp(*e, "LOCAL_RANK=", 11) != 0 &&
        strncmp(*e, "WORLD_SIZE=", 11) != 0 &&
        strncmp(*e, "TORCHELASTIC_RESTART_COUNT=", 27) != 0) {
      base.push_back(*e);
    }
  }
  const std::string world = "WORLD_SIZE=" + std::to_string(n);
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    const std::string rank = "RANK=" + std::to_string(i);
    const std::string local = "LOCAL_RANK=" + std::to_string(i);
    std::vector<char*> envp = base;
    envp.push_back(const_cast<char*>(rank.c_str()));
    envp.push_back(const_cast<char*>(local.c_str()));
    envp.push_back(const_cast<char*>(world.c_str()));
    envp.push_back(const_cast<char*>("TORCHELASTIC_RESTART_COUNT=0"));
    envp.push_back(nullptr);
    pid_t pid;
    int rc = fork_wait ? ForkWait(argv + 2, envp.data())
                       : posix_spawnp(&pid, argv[2], nullptr, nullptr, argv + 2, envp.data());
    if (rc != 0) {
      fprintf(stderr, "spawn_baseline: spawn %s: %s\n", argv[2], strerror(rc));
      ++failed;
    }
  }
  int status;
  while (wait(&status) > 0) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  return failed == 0 ? 0 : 1;
}
