#include "launcher/dry_run.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "launcher/attempt_plan.h"
#include "launcher/rdzv_auth.h"
#include "launcher/slurm_launch.h"
#include "slurm/plan.h"

namespace fabric::launcher {
namespace {

std::string Source(const LaunchOptions& o, const std::string& flag) {
  auto it = o.sources.find(flag);
  return it == o.sources.end() ? "default" : it->second;
}

}  // namespace

// The rendezvous' authentication, as the run would decide it (without asking munge for a
// credential); the run's refusal as the error.
absl::StatusOr<std::string> DescribeAuth(const LaunchOptions& o, const EnvMap& inherited) {
  const bool has_token = !o.rdzv_token.empty() || !o.rdzv_token_file.empty();
  absl::StatusOr<RdzvAuthDecision> d = DecideRdzvAuth(RdzvAuthFactsFor(o, has_token, inherited));
  if (!d.ok()) return d.status();
  return std::string(RdzvAuthModeName(d->mode));
}

std::string DescribePlan(const LaunchOptions& o, const EnvMap& inherited) {
  std::string s = "fabric-run: dry run: nothing is started\n";
  auto line = [&](const std::string& flag, const std::string& value) {
    absl::StrAppend(&s, "  ", flag, " = ", value, "  (", Source(o, flag), ")\n");
  };
  line("accelerator", o.accelerator);
  line("devices", absl::StrCat(o.devices));
  line("num-nodes", o.min_nodes == o.max_nodes ? absl::StrCat(o.min_nodes)
                                               : absl::StrCat(o.min_nodes, ":", o.max_nodes));
  line("node-rank", o.node_rank        ? absl::StrCat(*o.node_rank)
                    : o.max_nodes == 1 ? "0"
                                       : "(assigned by the rendezvous)");
  line("main-address", o.main_address);
  line("main-port", absl::StrCat(o.main_port));
  line("rdzv-endpoint", o.rdzv_endpoint.empty() ? "(embedded in node 0)" : o.rdzv_endpoint);
  line("strategy", o.strategy.empty() ? "(the program's choice)" : o.strategy);
  line("precision", o.precision.empty() ? "(the program's choice)" : o.precision);
  line("max-restarts", absl::StrCat(o.max_restarts));
  line("grace-period", absl::FormatDuration(o.grace_period));
  line("join-timeout", absl::FormatDuration(o.join_timeout));
  line("run-id", o.run_id.empty() ? "(generated)" : o.run_id);
  line("role", o.role);
  line("log-dir", o.log_dir.empty() ? "(none)" : o.log_dir);
  absl::StrAppend(&s, "  command: ", absl::StrJoin(o.exec_argv, " "), "\n");
  // The first attempt's plan as the run makes it before any port is chosen; with several
  // nodes, as the options describe it (the rendezvous has the final word).
  NodePlacement plan =
      PlacementFromOptions(o, o.run_id.empty() ? "(generated)" : o.run_id, /*restart_count=*/0);
  if (o.max_nodes > 1) plan.master_addr = "(node 0's address)";
  for (int lr = 0; lr < o.devices; ++lr) {
    EnvMap env = WorkerEnvironment(o, plan, lr, "(per-rank error file)", inherited);
    absl::StrAppend(&s, "  worker ", lr, ":");
    for (const char* k :
         {kEnvRank, kEnvLocalRank, kEnvWorldSize, kEnvLocalWorldSize, kEnvGroupRank,
          kEnvGroupWorldSize, kEnvRoleName, kEnvMasterAddr, kEnvRunId, kEnvCudaVisibleDevices,
          kEnvOmpNumThreads, kEnvSignalsToHandle, kEnvNcclAsyncErrorHandling, kEnvLtAccelerator,
          kEnvLtStrategy, kEnvLtDevices, kEnvLtNumNodes, kEnvLtPrecision}) {
      auto it = env.find(k);
      if (it != env.end()) absl::StrAppend(&s, " ", k, "=", it->second);
    }
    absl::StrAppend(&s, " MASTER_PORT=(a free port, chosen at run time)\n");
  }
  return s;
}

absl::StatusOr<std::string> DescribeLaunch(const LaunchOptions& options, const EnvMap& inherited) {
  absl::StatusOr<SlurmDecision> d = DecideSlurmLaunch(options, inherited);
  if (!d.ok()) return d.status();
  if (d->plan.layout == slurm::Layout::kNotSlurm) {
    if (!IsMultiNode(options)) return DescribePlan(options, inherited);
    absl::StatusOr<std::string> auth = DescribeAuth(options, inherited);
    if (!auth.ok()) return auth.status();
    return absl::StrCat(DescribePlan(options, inherited), "  rendezvous auth: ", *auth, "\n");
  }
  std::string slurm = absl::StrCat("  SLURM: ", slurm::DescribePlan(d->plan), "\n");
  if (d->action == SlurmDecision::Action::kExec) {
    absl::StrAppend(&slurm,
                    "  this srun task is one worker; it execs: ", absl::StrJoin(d->exec_argv, " "),
                    "\n  with");
    for (const char* k :
         {kEnvRank, kEnvLocalRank, kEnvWorldSize, kEnvGroupRank, kEnvMasterAddr, kEnvMasterPort}) {
      auto it = d->exec_env.find(k);
      if (it != d->exec_env.end()) absl::StrAppend(&slurm, " ", k, "=", it->second);
    }
    absl::StrAppend(&slurm, "\n");
    return absl::StrCat(DescribePlan(options, inherited), slurm);
  }
  LaunchOptions shown = d->launch;
  for (const char* flag :
       {"devices", "num-nodes", "node-rank", "main-address", "main-port", "run-id"}) {
    if (options.sources.count(flag) == 0) shown.sources[flag] = "SLURM";
  }
  if (IsMultiNode(shown)) {
    absl::StatusOr<std::string> auth = DescribeAuth(shown, inherited);
    if (!auth.ok()) return auth.status();
    absl::StrAppend(&slurm, "  rendezvous auth: ", *auth, "\n");
  }
  return absl::StrCat(DescribePlan(shown, inherited), slurm);
}

}  // namespace fabric::launcher
