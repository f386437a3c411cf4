// Test harness: runs the real fabric-run binary (a data dependency) as a child,
// collects its stdout/stderr on a thread, and offers liveness checks for the pids
// the helper workers write to $HELPER_DIR.
#ifndef FABRIC_TESTS_FABRIC_RUN_HARNESS_H_
#define FABRIC_TESTS_FABRIC_RUN_HARNESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fabric::testing {

// Runfiles path of a workspace-relative file ("launcher/fabric-run").
std::string Runfile(const std::string& path);
std::string FabricRunPath();
std::string HelperPath();
// The repository's .venv/bin/python (torch 2.11, lightning), from FABRIC_VENV_PYTHON,
// which the BUILD sets from @torch//:defs.bzl. Empty when unset or not executable.
std::string VenvPython();

// A fresh empty directory under TEST_TMPDIR.
std::string NewTempDir(const std::string& name);

// A TCP port free right now on the IPv4 (and IPv6) wildcard (common/net.h's
// PickFreePort); fails the calling test (and returns 0) when none can be found.
int FreePort();

class FabricRun {
 public:
  // Starts `fabric-run args...` with the test's environment plus `extra_env`, and
  // the signals in `ignored` set to SIG_IGN (as nohup does for SIGHUP). With
  // `terminal`, fabric-run leads a new session whose controlling terminal (a pty
  // held by this object) is its stdin, as in an interactive shell.
  FabricRun(const std::vector<std::string>& args,
            const std::map<std::string, std::string>& extra_env = {},
            const std::vector<int>& ignored = {}, bool terminal = false,
            const std::string& binary = "");  // empty: fabric-run
  ~FabricRun();                               // SIGKILLs fabric-run if still running

  pid_t pid() const { return pid_; }
  // Waits for exit; returns the shell-style status (code or 128 + signal), or
  // nullopt after `timeout` (fabric-run is then SIGKILLed).
  std::optional<int> Wait(absl::Duration timeout = absl::Seconds(120));
  // Blocks until `text` appeared on stdout (or stderr if `in_stderr`); false after timeout.
  bool WaitForOutput(const std::string& text, bool in_stderr = false,
                     absl::Duration timeout = absl::Seconds(60));
  std::string out();
  std::string err();

 private:
  void ReadLoop(int out_fd, int err_fd);
  pid_t pid_ = -1;
  int pty_master_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  absl::Mutex mu_;
  std::string out_ ABSL_GUARDED_BY(mu_);
  std::string err_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads "<dir>/<what>_<rank>.pid", waiting for it to appear; -1 after timeout.
pid_t WaitForPidFile(const std::string& dir, const std::string& what, int rank,
                     absl::Duration timeout = absl::Seconds(60));
// True while `pid` exists and is not a zombie.
bool Alive(pid_t pid);
// Waits until `pid` is gone (reaping it if it became our child); false on timeout.
bool WaitGone(pid_t pid, absl::Duration timeout);

std::string ReadFile(const std::string& path);
std::vector<std::string> Lines(const std::string& text);

}  // namespace fabric::testing

#endif  // FABRIC_TESTS_FABRIC_RUN_HARNESS_H_
