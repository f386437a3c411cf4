// Test helper: runs one job of N worker processes on this machine, the way a launcher
// would (fork/exec, the worker environment from common/worker_env.h with
// MASTER_ADDR=127.0.0.1 and a free MASTER_PORT), and collects every rank's exit
// status and output. Torch-free.
//
// Thread safety: RunRanks may be called from one thread at a time.
#ifndef FABRIC_TESTS_RUNTIME_SPAWN_H_
#define FABRIC_TESTS_RUNTIME_SPAWN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/worker_env.h"

namespace fabric::testing {

struct RankResult {
  int rank = 0;
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string output;  // stdout and stderr together
};

struct JobSpec {
  std::string binary;
  std::vector<std::string> args;
  int world_size = 1;
  // Added to (and overriding) every rank's environment.
  EnvMap extra_env;
  // Ranks still running after this are SIGKILLed and marked timed_out.
  absl::Duration timeout = absl::Seconds(120);
};

// Runs the job to completion. Errors only for spawn failures (fork, exec, files).
absl::StatusOr<std::vector<RankResult>> RunRanks(const JobSpec& spec);

// "rank 1 exit 0\n<output>..." for failure messages.
std::string Describe(const std::vector<RankResult>& results);

// The worker binary's path inside the test's runfiles.
std::string WorkerBinary();

// Lines of `output` starting with `prefix` (prefix removed).
std::vector<std::string> LinesWithPrefix(const std::string& output, const std::string& prefix);

}  // namespace fabric::testing

#endif  // FABRIC_TESTS_RUNTIME_SPAWN_H_
