// RuntimeEnv: what the runtime takes from its process environment, read in one place.
//
// ReadProcessEnv() is the only code in runtime/ that reads `environ`; everything else
// gets a RuntimeEnv (or its EnvMap) passed down, so tests build one from a map.
// ResolveConfig (config.h) turns `vars` into the RuntimeConfig; the fields below are
// the variables that configure I/O rather than the job (files and FIFOs fabric-run
// made for this worker, the Gloo interface).
//
// Thread safety: a RuntimeEnv is a value; ReadProcessEnv must not race with setenv.
#ifndef FABRIC_RUNTIME_RUNTIME_ENV_H_
#define FABRIC_RUNTIME_RUNTIME_ENV_H_

#include <string>

#include "common/worker_env.h"

namespace fabric::runtime {

inline constexpr char kEnvFabricHeartbeatFile[] = "FABRIC_HEARTBEAT_FILE";
inline constexpr char kEnvGlooSocketIfname[] = "GLOO_SOCKET_IFNAME";

struct RuntimeEnv {
  EnvMap vars;                 // every variable, for ResolveConfig
  std::string heartbeat_file;  // FABRIC_HEARTBEAT_FILE (heartbeat.h); "": not under fabric-run
  std::string control_fifo;    // FABRIC_CONTROL_FIFO: shrink lines (recovery.h)
  std::string spare_fifo;      // FABRIC_SPARE_FIFO: this process is a spare (spare.h)
  std::string gloo_interface;  // GLOO_SOCKET_IFNAME; "": Gloo's default

  // Pure: picks the fields out of `vars` (an unset variable is "").
  static RuntimeEnv FromMap(EnvMap vars);
};

// This process's environment as a map (a snapshot: later setenv calls are not seen).
EnvMap ReadProcessEnv();

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_RUNTIME_ENV_H_
