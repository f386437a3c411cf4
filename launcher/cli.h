// Command-line parsing for `fabric-run`: argv + environment -> LaunchOptions.
// Pure: reads no files other than stat(2) of the program, and no getenv (the
// environment and the machine's GPU count are passed in).
#ifndef FABRIC_LAUNCHER_CLI_H_
#define FABRIC_LAUNCHER_CLI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/worker_env.h"
#include "launcher/options.h"

namespace fabric::launcher {

struct CliResult {
  // kStatus, kTop, kStacks, kInstallTorchrun: `fabric-run status ...` (status_client.h),
  // `top ...` (top.h), `stacks ...` (stacks.h), `install-torchrun [--undo]`
  // (install_paths.h), the words after the command in command_args. A word that
  // names a fabric-run command is read as one only as the first argument; a program of
  // that name runs as `fabric-run -- status` or by its path (`./status`).
  enum class Action { kRun, kHelp, kVersion, kStatus, kTop, kStacks, kInstallTorchrun };
  Action action = Action::kRun;
  LaunchOptions options;  // valid when action == kRun
  std::string text;       // the help or version text otherwise
  // One line each (no "fabric-run: warning: " prefix, no newline) for the caller to print
  // to stderr before running: settings the parse overrode (--standalone's).
  std::vector<std::string> warnings;
  std::vector<std::string> command_args;  // kStatus: the words after the command's name
};

// What the parser needs to know about this machine (probed by main, faked by tests).
struct MachineFacts {
  // GPUs the NVIDIA driver reports (CountNvidiaGpus()); consulted only when
  // CUDA_VISIBLE_DEVICES is unset, for --accelerator auto/cuda and --devices auto.
  int nvidia_gpus = 0;
  // CPUs this process may run on (torchrun's --nproc-per-node cpu / auto without GPUs).
  int cpus = 1;
  // The python3 of the virtual environment this binary is installed in
  // (VenvPythonBeside(SelfExecutable()), install_paths.h), empty when none: the default
  // --python, as torchrun runs scripts with the Python that runs it.
  std::string venv_python;
};

// Which command the user typed: fabric-run, or fabric-run installed (linked) as
// `torchrun` (tools/install.sh --torchrun), so that scripts calling torchrun need no
// change. As torchrun, the differences from fabric-run are torchrun's: every PROGRAM
// runs as `python -u PROGRAM` unless --no-python (fabric-run: only a .py file, without
// -u), the rendezvous port (--master-port) defaults to 29500, and help and version say
// so.
enum class Personality { kFabricRun, kTorchrun };

// The personality for argv[0]: kTorchrun when its last path component is "torchrun".
Personality PersonalityFor(const std::string& argv0);

// The number of GPUs the NVIDIA kernel driver lists in `proc_dir` (one entry per GPU;
// 0 when the directory is absent: no driver, no GPU).
int CountNvidiaGpus(const std::string& proc_dir = "/proc/driver/nvidia/gpus");

// Parses `args` (argv without argv[0]). Every flag may also come from FABRIC_<FLAG>
// in `env` (e.g. FABRIC_DEVICES, FABRIC_MAX_RESTARTS), torchrun's flags also from
// PET_<FLAG>, and inside a Kubernetes pod some from the operator's variables
// (launcher/kubernetes.h); the command line wins, then FABRIC_, PET_, Kubernetes.
// Everything after the program (or after `--`) is the program's, untouched.
//
// Returns InvalidArgument with one line that names the flag (or variable) and what
// was wrong, for: an unknown flag, a bad value (--devices 0, --devices abc,
// --num-nodes 0, a port out of range, negative restarts, ...), --node-rank >=
// nodes, a missing program, a program that is a directory or not executable, and
// --accelerator cuda (or a GPU id list) where no GPU is visible.
// The caller prints it and exits with status 2.
absl::StatusOr<CliResult> ParseCommandLine(const std::vector<std::string>& args, const EnvMap& env,
                                           const MachineFacts& machine = MachineFacts{},
                                           Personality personality = Personality::kFabricRun);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_CLI_H_
