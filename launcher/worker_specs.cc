#include "launcher/worker_specs.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "launcher/attempt_plan.h"
#include "launcher/hang_watch.h"
#include "launcher/worker_output.h"

namespace fabric::launcher {
namespace {

ProcessSpec Worker(const LaunchOptions& lo, const NodePlacement& plan, const AttemptDirs& dirs,
                   const EnvMap& inherited, int local) {
  ProcessSpec p;
  p.global_rank = plan.global_rank_base + local;
  p.local_rank = local;
  const std::string base =
      lo.log_dir.empty()
          ? absl::StrCat(dirs.logs, "/attempt_", plan.restart_count, "_rank_", p.global_rank)
          : absl::StrCat(dirs.logs, "/rank_", p.global_rank);
  p.error_file = absl::StrCat(base, ".error.json");
  if (lo.log_dir.empty()) p.scratch_files.push_back(p.error_file);
  p.output_prefix = RankPrefix(p.global_rank, plan.node_rank, plan.num_nodes);
  p.to_console = ConsoleWants(lo.console, p.global_rank, local);
  if (!lo.log_dir.empty()) {
    p.stdout_log = absl::StrCat(base, ".stdout.log");
    p.stderr_log = absl::StrCat(base, ".stderr.log");
  }
  p.heartbeat_file = HangWatch::BeatFile(dirs.scratch, plan.restart_count, local);
  EnvMap env = WorkerEnvironment(lo, plan, local, p.error_file, inherited);
  HangWatch::AddWorkerEnv(dirs.scratch, p.heartbeat_file, &env);
  if (lo.recovery_in_place) {  // the control FIFO (common/worker_control.h)
    p.fifo = absl::StrCat(dirs.scratch, "/control_", plan.restart_count, "_", local);
    p.scratch_files.push_back(p.fifo);
    env[kEnvFabricControlFifo] = p.fifo;
  }
  p.spawn.name = absl::StrCat("rank ", p.global_rank);
  p.spawn.argv = lo.exec_argv;
  p.spawn.env = EnvToStrings(env);
  return p;
}

// A spare (--spares): the program, started now, waits in the runtime until the agent writes
// a failed worker's environment to its FIFO (runtime/spare.h).
ProcessSpec Spare(const LaunchOptions& lo, const NodePlacement& plan, const AttemptDirs& dirs,
                  const EnvMap& inherited, int s) {
  ProcessSpec p;
  p.global_rank = -1;
  p.local_rank = -1;
  p.spare = true;
  p.fifo = absl::StrCat(dirs.scratch, "/spare_", plan.restart_count, "_", s);
  p.scratch_files.push_back(p.fifo);
  p.output_prefix = absl::StrCat("[spare ", s, "]: ");
  p.to_console = ConsoleWants(lo.console, plan.global_rank_base, 0);
  if (!lo.log_dir.empty()) {
    p.stdout_log = absl::StrCat(dirs.logs, "/spare_", s, ".stdout.log");
    p.stderr_log = absl::StrCat(dirs.logs, "/spare_", s, ".stderr.log");
  }
  EnvMap env = WorkerEnvironment(lo, plan, 0, "", inherited);
  // No rank until it takes one over: a program that is not on the C++ runtime fails at
  // once instead of joining the job as a second local rank 0.
  for (const char* k : {kEnvRank, kEnvLocalRank, kEnvGroupRank, kEnvRoleRank, kEnvErrorFile}) {
    env.erase(k);
  }
  env[kEnvFabricSpareFifo] = p.fifo;
  p.spawn.name = absl::StrCat("spare ", s);
  p.spawn.argv = lo.exec_argv;
  p.spawn.env = EnvToStrings(env);
  return p;
}

}  // namespace

bool ConsoleWants(const ConsoleFilter& f, int rank, int local_rank) {
  if (f.quiet) return false;
  if (f.local_ranks.has_value() &&
      std::find(f.local_ranks->begin(), f.local_ranks->end(), local_rank) == f.local_ranks->end()) {
    return false;
  }
  if (f.all) return true;
  return std::find(f.ranks.begin(), f.ranks.end(), rank) != f.ranks.end();
}

AttemptSpecs PlanWorkers(const LaunchOptions& options, const NodePlacement& plan,
                         const AttemptDirs& dirs, const EnvMap& inherited) {
  AttemptSpecs specs;
  for (int local = 0; local < plan.local_world_size; ++local) {
    specs.workers.push_back(Worker(options, plan, dirs, inherited, local));
  }
  for (int s = 0; s < options.spares; ++s) {
    specs.spares.push_back(Spare(options, plan, dirs, inherited, s));
  }
  return specs;
}

}  // namespace fabric::launcher
