#include "common/munge_daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/subprocess.h"

namespace fabric {

absl::Status MungeDaemon::Start() {
  char tmpl[] = "/tmp/fabric-munge-XXXXXX";  // short: a socket path has ~108 bytes
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  dir_ = tmpl;
  chmod(dir_.c_str(), 0755);  // munged refuses a socket directory others cannot search
  const std::string key = dir_ + "/munge.key";
  absl::StatusOr<CommandResult> k =
      RunCommand({"mungekey", "--create", "--keyfile=" + key}, "", absl::Seconds(20));
  if (!k.ok()) return k.status();
  if (k->exit_code != 0) return absl::InternalError("mungekey: " + k->err);
  absl::StatusOr<CommandResult> d = RunCommand(
      {"munged", "--key-file=" + key, "--socket=" + socket(), "--pid-file=" + dir_ + "/pid",
       "--log-file=" + dir_ + "/log", "--seed-file=" + dir_ + "/seed"},
      "", absl::Seconds(20));
  if (!d.ok()) return d.status();
  if (d->exit_code != 0) return absl::InternalError("munged: " + d->err);
  return absl::OkStatus();
}

MungeDaemon::~MungeDaemon() {
  if (dir_.empty()) return;
  std::ifstream in(dir_ + "/pid");
  pid_t pid = 0;
  if (in >> pid && pid > 0) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 200 && kill(pid, 0) == 0; ++i) usleep(10000);
  }
  (void)RunCommand({"rm", "-rf", dir_}, "", absl::Seconds(10));
}

}  // namespace fabric
