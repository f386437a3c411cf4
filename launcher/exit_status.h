// ExitStatus: how a process ended (an exit code or a terminating signal), and the
// shell convention for reporting it (128 + signal). A plain value type.
#ifndef FABRIC_LAUNCHER_EXIT_STATUS_H_
#define FABRIC_LAUNCHER_EXIT_STATUS_H_

#include <string>

namespace fabric::launcher {

struct ExitStatus {
  int code = 0;    // exit code when signal == 0
  int signal = 0;  // terminating signal, 0 when the process exited

  static ExitStatus Exited(int code) { return ExitStatus{code, 0}; }
  static ExitStatus Signaled(int sig) { return ExitStatus{0, sig}; }
  // From a waitpid(2) status word (WIFEXITED / WIFSIGNALED).
  static ExitStatus FromWaitStatus(int wstatus);

  bool success() const { return signal == 0 && code == 0; }
  // The status a shell would report: code, or 128 + signal.
  int ShellCode() const { return signal != 0 ? 128 + signal : code; }
  // "exit code 3" or "signal SIGSEGV (11)".
  std::string Describe() const;

  bool operator==(const ExitStatus& o) const { return code == o.code && signal == o.signal; }
};

// "SIGSEGV" for 11; "SIG42" for a number without a name.
std::string SignalName(int sig);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_EXIT_STATUS_H_
