// MultiNodeMain for the small `fabric-run` binary: exec fabric-run-multinode, found
// beside this executable, with the same arguments and environment.
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "launcher/multinode.h"

extern char** environ;

namespace fabric::launcher {

int MultiNodeMain(char** argv, AgentOptions options) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = ".";
  if (n > 0) {
    self[n] = '\0';
    std::string path(self);
    dir = path.substr(0, path.rfind('/'));
  }
  const std::string helper = absl::StrCat(dir, "/fabric-run-multinode");
  // The new image starts with the mask fabric-run was started with (and keeps the
  // ignored signals), exactly as this process did.
  pthread_sigmask(SIG_SETMASK, &options.worker_sigmask, nullptr);
  execve(helper.c_str(), argv, environ);
  const std::string msg = absl::StrCat(
      "fabric-run: multi-node jobs run through ", helper, ", which could not be started (",
      std::strerror(errno), "); install fabric-run-multinode beside fabric-run\n");
  (void)!write(2, msg.data(), msg.size());
  return 1;
}

}  // namespace fabric::launcher
