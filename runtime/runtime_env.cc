#include "runtime/runtime_env.h"

#include <utility>

extern char** environ;

namespace fabric::runtime {
namespace {

std::string Get(const EnvMap& vars, const char* name) {
  auto it = vars.find(name);
  return it == vars.end() ? "" : it->second;
}

}  // namespace

RuntimeEnv RuntimeEnv::FromMap(EnvMap vars) {
  RuntimeEnv env;
  env.heartbeat_file = Get(vars, kEnvFabricHeartbeatFile);
  env.control_fifo = Get(vars, kEnvFabricControlFifo);
  env.spare_fifo = Get(vars, kEnvFabricSpareFifo);
  env.gloo_interface = Get(vars, kEnvGlooSocketIfname);
  env.vars = std::move(vars);
  return env;
}

EnvMap ReadProcessEnv() {
  EnvMap env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace fabric::runtime
