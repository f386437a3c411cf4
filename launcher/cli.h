// Command-line parsing for `fabric-run`: argv + environment -> LaunchOptions.
// Pure: reads no files other than stat(2) of the program, and no getenv (the
// environment is passed in).
#ifndef FABRIC_LAUNCHER_CLI_H_
#define FABRIC_LAUNCHER_CLI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/worker_env.h"
#include "launcher/options.h"

namespace fabric::launcher {

struct CliResult {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  LaunchOptions options;  // valid when action == kRun
  std::string text;       // the help or version text otherwise
};

// Parses `args` (argv without argv[0]). Every flag may also come from FABRIC_<FLAG>
// in `env` (e.g. FABRIC_DEVICES, FABRIC_MAX_RESTARTS); the command line wins.
// Everything after the program (or after `--`) is the program's, untouched.
//
// Returns InvalidArgument with one line that names the flag (or variable) and what
// was wrong, for: an unknown flag, a bad value (--devices 0, --devices abc,
// --num-nodes 0, a port out of range, negative restarts, ...), --node-rank >=
// nodes, a missing program, or a program that is a directory or not executable.
// The caller prints it and exits with status 2.
absl::StatusOr<CliResult> ParseCommandLine(const std::vector<std::string>& args,
                                           const EnvMap& env);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_CLI_H_
