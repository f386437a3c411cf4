// spawn_baseline: the floor any launcher is compared with. posix_spawns N copies of
// a command (each with RANK=i, LOCAL_RANK=i, WORLD_SIZE=N and
// TORCHELASTIC_RESTART_COUNT=0 added to the inherited environment, stdout/stderr
// inherited) and waits for all of them. No supervision, no output handling.
//
//   spawn_baseline N CMD [ARGS...]
//
// Exit status: 0 when every copy exited 0, 1 otherwise (or when a spawn failed),
// 2 for bad usage.
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <string>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 3 || atoi(argv[1]) < 1) {
    fprintf(stderr, "usage: spawn_baseline N CMD [ARGS...]\n");
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
    int rc = posix_spawnp(&pid, argv[2], nullptr, nullptr, argv + 2, envp.data());
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
