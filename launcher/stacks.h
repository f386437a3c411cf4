// `fabric-run stacks [RUN-ID] [--rank R]...`: where every rank of a running job is (or the
// ranks named), without stopping it. The job is found as `status` finds it (status_client.h).
//   Python ranks: `py-spy dump --pid PID` (PyPI's py-spy: looked up next to the rank's own
//     interpreter, e.g. the job's venv, then on PATH); when it is not installed, one line
//     says how to get it.
//   Ranks on the C++ runtime: its main thread's native stack, which the runtime writes to its
//     live-stack file on a signal and then goes on (common/worker_control.h, 4).
//   Other programs: a line says there is no stack to get without stopping them.
// Exit status: 0 when every rank asked for was dumped; 1 when one could not be (a line
// each), or no job runs; 2 for a bad command line.
#ifndef FABRIC_LAUNCHER_STACKS_H_
#define FABRIC_LAUNCHER_STACKS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/worker_env.h"

namespace fabric::launcher {

// Pure: the py-spy to use for a Python process whose argv[0] is `argv0` (relative to its
// working directory `cwd`): `<dir of argv0>/py-spy` when `exists` says it is there, else
// "py-spy" from PATH when `on_path`; nullopt when there is none.
std::optional<std::string> PySpyFor(const std::string& argv0, const std::string& cwd,
                                    bool (*exists)(const std::string&), bool on_path);

int RunStacksCommand(const std::vector<std::string>& args, const EnvMap& env, int out_fd,
                     int err_fd);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_STACKS_H_
