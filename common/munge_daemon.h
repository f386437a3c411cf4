// MungeDaemon (tests only): a private munged with its own key and socket in a fresh
// directory under /tmp, as SLURM's test clusters run it (notes/test-infra.md). Two
// daemons are two clusters: a credential of one is refused by the other.
#ifndef FABRIC_COMMON_MUNGE_DAEMON_H_
#define FABRIC_COMMON_MUNGE_DAEMON_H_

#include <string>

#include "absl/status/status.h"

namespace fabric {

class MungeDaemon {
 public:
  MungeDaemon() = default;
  ~MungeDaemon();  // stops the daemon (SIGTERM to its pid) and removes the directory
  MungeDaemon(const MungeDaemon&) = delete;
  MungeDaemon& operator=(const MungeDaemon&) = delete;

  // Creates the key and starts munged (it forks into the background).
  absl::Status Start();
  const std::string& dir() const { return dir_; }
  std::string socket() const { return dir_ + "/munge.socket"; }

 private:
  std::string dir_;
};

}  // namespace fabric

#endif  // FABRIC_COMMON_MUNGE_DAEMON_H_
