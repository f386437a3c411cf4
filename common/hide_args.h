// HideArgValues: overwrites, in place, the values of secret flags (--rdzv-token T,
// --token=T) in the process's own argv, so that ps and /proc/PID/cmdline no longer show
// them. Call after parsing, before starting anything that others could observe for
// long. The flag names stay; each byte of a value becomes '*'.
//
// Thread safety: writes argv; call from main before other threads read it.
#ifndef FABRIC_COMMON_HIDE_ARGS_H_
#define FABRIC_COMMON_HIDE_ARGS_H_

#include <string>
#include <vector>

namespace fabric {

// Looks only at argv[1..own_args] (the launcher's own flags, not the program's).
void HideArgValues(char** argv, int own_args, const std::vector<std::string>& flags);

}  // namespace fabric

#endif  // FABRIC_COMMON_HIDE_ARGS_H_
