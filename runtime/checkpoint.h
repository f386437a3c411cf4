// The checkpoint file: one pickled dict of string -> tensor (torch::pickle_save's
// zip format, which Python's torch.load reads too), written with WriteFileAtomically
// so that a crash mid-save never damages the previous checkpoint at the same path.
//
// Every tensor is stored on the CPU (device-independent: a GPU run's checkpoint loads on
// CPU and the reverse; loaders copy into their own devices and dtypes).
// Keys: "format" (int64 1), "step" (int64), "world_size" (int64, the saver's),
// "rng/cpu" (the CPU generator's state), "rng/cuda" (the saving rank's CUDA generator's,
// absent when it ran on the CPU), "model/<param name>" (full, unsharded),
// "optim/<param name>/<state key>" (see optim_state.h), "extra/<key>" (the caller's).
//
// Thread safety: functions are thread-safe (no shared state).
#ifndef FABRIC_RUNTIME_CHECKPOINT_H_
#define FABRIC_RUNTIME_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/atomic_file.h"
#include "runtime/optim_state.h"

namespace fabric::runtime {

struct CheckpointData {
  int64_t step = 0;
  int64_t world_size = 1;
  at::Tensor rng_state;       // the CPU generator's; may be undefined
  at::Tensor cuda_rng_state;  // the CUDA generator's; undefined without a GPU (and in
                              // every checkpoint written before it was saved)
  TensorMap model;
  TensorMap optimizer;
  TensorMap extra;
};

// Serialises and writes atomically. `rank` goes into error messages.
absl::Status WriteCheckpoint(const std::string& path, const CheckpointData& data, int rank,
                             const AtomicWriteOptions& write_options = {});

// NotFound when the file does not exist; DataLoss when it is not a checkpoint of ours
// (truncated, another format).
absl::StatusOr<CheckpointData> ReadCheckpoint(const std::string& path, int rank);

// A flat dict of tensors (one rank's file of a sharded checkpoint), on the CPU, written
// atomically; keys as given. ReadTensorFile: NotFound / DataLoss as ReadCheckpoint.
absl::Status WriteTensorFile(const std::string& path, const TensorMap& tensors, int rank,
                             const AtomicWriteOptions& write_options = {});
absl::StatusOr<TensorMap> ReadTensorFile(const std::string& path, int rank);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_CHECKPOINT_H_
