// The agent's half of the preload zygote's protocol (launcher/fabric_zygote.py's
// docstring): which spawn specs a zygote can fork, and the bytes of a spawn request.
// Pure functions: no I/O.
#ifndef FABRIC_LAUNCHER_ZYGOTE_REQUEST_H_
#define FABRIC_LAUNCHER_ZYGOTE_REQUEST_H_

#include <optional>
#include <string>
#include <vector>

#include "launcher/process_launcher.h"

namespace fabric::launcher {

// What `python [-u] SCRIPT ARGS...` or `python [-u] -m MODULE ARGS...` runs.
struct PythonTarget {
  bool module = false;      // -m MODULE
  std::string target;       // the script's path or the module's name
  bool unbuffered = false;  // -u
  std::vector<std::string> args;
};

// True when `path`'s file name starts with "python" (python, python3, python3.11).
bool LooksLikePython(const std::string& path);

// `argv` as a zygote runs it: argv[0] == `python` (the zygote's interpreter, exactly),
// then any of -u, then -m MODULE or a script path (not starting with '-'), then the
// program's arguments. nullopt for anything else (another interpreter, other Python
// options, `-c`): such a spec is spawned normally.
std::optional<PythonTarget> ParsePythonArgv(const std::string& python,
                                            const std::vector<std::string>& argv);

// The request message for `target` with `spec`'s environment and CPUs, run in `cwd`.
std::string EncodeSpawnRequest(const PythonTarget& target, const SpawnSpec& spec,
                               const std::string& cwd);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ZYGOTE_REQUEST_H_
