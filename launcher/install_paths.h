// Where fabric-run was installed, and what comes with that: the virtual environment's
// Python when pip put the binary into a venv's bin/ (the wheel, tools/wheel/), and
// `fabric-run install-torchrun`, which makes that environment's torchrun this binary.
#ifndef FABRIC_LAUNCHER_INSTALL_PATHS_H_
#define FABRIC_LAUNCHER_INSTALL_PATHS_H_

#include <string>

#include "absl/status/statusor.h"

namespace fabric::launcher {

// The path of the running binary (/proc/self/exe), empty when unreadable.
std::string SelfExecutable();

// `exe`'s virtual environment's python3: exe's directory holds an executable python3 and
// its parent a pyvenv.cfg (how `python -m venv` and pip's scheme lay out an environment);
// empty otherwise. As torchrun runs a script with the Python that runs torchrun, a
// fabric-run installed by pip into an environment runs .py programs with that
// environment's Python, activated or not (--python still wins).
std::string VenvPythonBeside(const std::string& exe);

// `fabric-run install-torchrun [--undo]`: with `undo` false, makes DIR/torchrun (DIR:
// exe's directory) a symbolic link to `exe`, first renaming a torchrun that is not one
// already (torch's script) to torchrun.torch; with `undo`, puts torch's back. Returns the
// line to print. Errors: one line naming the path and the fix.
absl::StatusOr<std::string> InstallTorchrun(const std::string& exe, bool undo);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_INSTALL_PATHS_H_
