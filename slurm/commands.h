// Command lines for SLURM's tools, built as argv vectors (never shell strings), for the
// docs, the tests and the launcher's requeue-on-failure. Nothing here runs them.
//
// Thread safety: pure functions on values.
#ifndef FABRIC_SLURM_COMMANDS_H_
#define FABRIC_SLURM_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fabric::slurm {

struct SrunOptions {
  int nodes = 1;                       // -N
  std::optional<int> ntasks;           // -n
  std::optional<int> ntasks_per_node;  // --ntasks-per-node
  std::optional<int> gpus_per_node;    // --gpus-per-node
  std::optional<int> cpus_per_task;    // --cpus-per-task
  // --immediate=N: fail instead of waiting more than N seconds for resources (0: omit).
  int immediate_seconds = 0;
  std::optional<absl::Duration> time_limit;  // --time (rounded up to whole minutes)
  std::string partition;                     // -p (empty: omit)
  std::string job_name;                      // -J (empty: omit)
  bool kill_on_bad_exit = true;              // --kill-on-bad-exit=1: one failed task ends the step
  std::optional<std::string> signal;         // --signal, e.g. "USR1@90"
  std::vector<std::string> extra_args;       // appended before the program, untouched
  std::vector<std::string> program;          // the command srun runs in every task
};

// {"srun", "-N", "2", "--ntasks-per-node", "4", ..., program...}. Returns InvalidArgument
// if `program` is empty or a count is < 1 (naming the field).
absl::StatusOr<std::vector<std::string>> BuildSrunArgv(const SrunOptions& options);

// {"scontrol", "requeue", "<job_id>"}: puts the job back in the queue (SLURM restarts
// it from the batch script, with SLURM_RESTART_COUNT incremented).
std::vector<std::string> BuildRequeueArgv(int64_t job_id);

}  // namespace fabric::slurm

#endif  // FABRIC_SLURM_COMMANDS_H_
