// Sharded checkpoints: each rank writes what it holds, without gathering; any world size
// reassembles the full state from all ranks' files.
//
// One rank's map (Strategy::LocalShardState) holds
//   "model/<name>"                  whole tensors (DDP: every one; FSDP: buffers, frozen)
//   "optim/<name>/<key>"            whole optimizer state (DDP)
//   "fsdp/<unit>/layout"            int64 [total, padded, shard_size, world_size]
//   "fsdp/<unit>/param/<name>"      int64 [offset, numel, dim0, dim1, ...]
//   "fsdp/<unit>/flat"              this rank's shard of the unit's flat parameters
//   "fsdp/<unit>/optim/<key>"       this rank's shard of its optimizer state ("step": scalar)
// Pure; thread-safe.
#ifndef FABRIC_RUNTIME_SHARDED_STATE_H_
#define FABRIC_RUNTIME_SHARDED_STATE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "runtime/optim_state.h"

namespace fabric::runtime {

struct FullState {
  TensorMap model;      // by parameter/buffer name
  TensorMap optimizer;  // "<name>/<key>"
};

// The full state from every rank's map, in rank order (ranks.size() must be the saver's
// world size). DataLoss when a shard is missing or the layouts disagree.
absl::StatusOr<FullState> AssembleFullState(const std::vector<TensorMap>& ranks);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_SHARDED_STATE_H_
