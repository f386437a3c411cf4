// Command-line options of the example trainer (torch-free, so that parsing is tested
// without LibTorch).
#ifndef FABRIC_EXAMPLES_TRAIN_TRAIN_OPTIONS_H_
#define FABRIC_EXAMPLES_TRAIN_TRAIN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fabric::examples {

struct TrainOptions {
  // Passed to FabricOptions; unset defers to the launcher's LT_* variables.
  std::optional<std::string> strategy;
  std::optional<std::string> precision;
  std::optional<std::string> accelerator;
  // --process-group-backend nccl|gloo: FabricOptions.process_group_backend (gloo: several
  // ranks share one GPU). Unset: nccl on cuda, gloo on cpu.
  std::optional<std::string> process_group_backend;
  int steps = 200;
  int batch_size = 8;  // sequences per process and step
  int seq_len = 64;
  int vocab = 256;
  int d_model = 64;
  int layers = 2;
  int heads = 4;
  double lr = 3e-3;
  uint64_t seed = 1234;
  std::string ckpt_dir;  // empty: no checkpoints
  int ckpt_every = 100;
  int log_every = 25;
  int warmup_steps = 5;  // excluded from the step-time figure
  // Testing restarts: on the first attempt (TORCHELASTIC_RESTART_COUNT=0) rank
  // crash_rank exits with status 1 just before this step. -1: never.
  int crash_at_step = -1;
  int crash_rank = 0;
  // How it crashes: "exit" (status 1) or "kill" (SIGKILL to itself: no handler, no
  // flush; a replacement started in place does not crash again).
  std::string crash_with = "exit";
  // Each rank appends "step S pid P t MS world W scale X" (MS: wall clock; X: the loss
  // scale, 1 unless 16-mixed) to DIR/rank_R.steps after every step, and "kill pid P t MS"
  // before a --crash-at-step crash (tests, benchmarks).
  std::string step_log_dir;
  // Rank 0 writes the final parameters, float32 in parameter order, to this file.
  std::string dump_params;
  // FSDP auto-wrap: each submodule whose type name contains this is a unit ("" : one).
  std::string fsdp_units;
  std::string fsdp_checkpoint;  // --activation-checkpointing TYPE: FSDP units to recompute
  // 16-mixed: clean steps in a row before the loss scale doubles (torch's default 2000).
  int loss_scale_growth_interval = 2000;
};

// Parses --name=value / --name value flags (argv[0] skipped). InvalidArgument names
// the flag for unknown flags and bad values; --help returns NotFound with the usage.
absl::StatusOr<TrainOptions> ParseTrainOptions(const std::vector<std::string>& args);
std::string TrainUsage();

}  // namespace fabric::examples

#endif  // FABRIC_EXAMPLES_TRAIN_TRAIN_OPTIONS_H_
