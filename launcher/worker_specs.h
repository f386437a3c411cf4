// PlanWorkers: one round's plan and the launch options -> the complete description of every
// process the round starts on this node (its workers and spares): argv, environment, output
// prefix and log files, and the files the agent must make before spawning it (heartbeat
// file, control or spare FIFO). Pure: names files, creates none; the agent (Agent's
// PrepareWorkers/PrepareSpares) does the I/O and spawns what this returns. Tested without
// processes (worker_specs_test).
#ifndef FABRIC_LAUNCHER_WORKER_SPECS_H_
#define FABRIC_LAUNCHER_WORKER_SPECS_H_

#include <string>
#include <vector>

#include "common/placement.h"
#include "common/worker_env.h"
#include "launcher/options.h"
#include "launcher/process_launcher.h"

namespace fabric::launcher {

struct AttemptDirs {
  // The agent's private directory: FIFOs, heartbeat files, the Python heartbeat helper,
  // and the error files when there is no --log-dir.
  std::string scratch;
  // Where the round's log and error files go: --log-dir/RUN_ID/attempt_N, or `scratch`.
  std::string logs;
};

// One process to start. `spawn` has no descriptors yet (the agent's pipes and stdin).
struct ProcessSpec {
  int global_rank = 0;  // a spare: the node's first rank (its console filter), -1 below
  int local_rank = 0;
  bool spare = false;
  SpawnSpec spawn;
  // Output (WorkerOutputOptions): prefix, whether the console shows it, log files ("" none).
  std::string output_prefix;
  bool to_console = true;
  std::string stdout_log;
  std::string stderr_log;
  // Files the agent makes before the spawn ("" when none): an empty error file path is
  // unlinked (a stale one from an earlier run would be taken for this one's), the heartbeat
  // file created (HangWatch), the FIFO made (control FIFO of a worker under --recovery
  // in-place; a spare's assignment FIFO).
  std::string error_file;
  std::string heartbeat_file;
  std::string fifo;
  // Files in the scratch directory that the agent removes when it exits.
  std::vector<std::string> scratch_files;
};

struct AttemptSpecs {
  std::vector<ProcessSpec> workers;  // by local rank
  std::vector<ProcessSpec> spares;   // --spares N
};

// `inherited`: the agent's environment (AgentOptions::inherited_env).
AttemptSpecs PlanWorkers(const LaunchOptions& options, const NodePlacement& plan,
                         const AttemptDirs& dirs, const EnvMap& inherited);

// Whether --console's filter shows rank `rank` (local rank `local_rank`) on the console.
bool ConsoleWants(const ConsoleFilter& filter, int rank, int local_rank);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_WORKER_SPECS_H_
