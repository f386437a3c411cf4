#include "launcher/kubernetes.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fabric::launcher {
namespace {

// The variable's trimmed value, empty when unset.
std::string Get(const EnvMap& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? "" : std::string(absl::StripAsciiWhitespace(it->second));
}

void AddIfAbsent(RawMap* raw, const char* flag, std::string value, std::string source) {
  if (value.empty() || raw->count(flag) > 0) return;
  (*raw)[flag] = Raw{std::move(value), std::move(source), false};
}

}  // namespace

bool InKubernetesPod(const EnvMap& env) { return !Get(env, "KUBERNETES_SERVICE_HOST").empty(); }

void AddKubernetesSettings(const EnvMap& env, RawMap* raw) {
  if (!InKubernetesPod(env)) return;
  if (raw->count("rdzv-endpoint") == 0) {
    AddIfAbsent(raw, "main-address", Get(env, "MASTER_ADDR"), "Kubernetes MASTER_ADDR");
    AddIfAbsent(raw, "main-port", Get(env, "MASTER_PORT"), "Kubernetes MASTER_PORT");
  }
  if (raw->count("num-nodes") > 0) {
    AddIfAbsent(raw, "node-rank", Get(env, "JOB_COMPLETION_INDEX"),
                "Kubernetes JOB_COMPLETION_INDEX");
  }
  AddIfAbsent(raw, "grace-period", "20s", "Kubernetes pod");
}

}  // namespace fabric::launcher
