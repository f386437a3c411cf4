// DDP's part of in-place recovery (recovery.h drives it through strategy.h's
// InPlaceRecovery): what a recoverable DDP keeps of one backward's gradient
// synchronisation so that a failed one can be redone with a re-formed group, and the
// bucket layout a replacement rank adopts so that it reduces exactly as its peers do.
// ddp.cc holds the DDP strategy itself; nothing here is used without --recovery in-place.
//
// Thread safety: a GradSnapshot is written by the reducer's comm hook (autograd's
// threads, while backward runs) and read by the training thread after backward returns;
// nothing here is called concurrently with a backward.
#ifndef FABRIC_RUNTIME_DDP_RECOVERY_H_
#define FABRIC_RUNTIME_DDP_RECOVERY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "c10/util/intrusive_ptr.h"
#include "runtime/communicator.h"

namespace c10d {
class CommHookInterface;
class ProcessGroup;
}  // namespace c10d

namespace c10::ivalue {
struct Future;
}  // namespace c10::ivalue

namespace fabric::runtime {

// Parameter indices per gradient bucket, in reduction order.
using Buckets = std::vector<std::vector<size_t>>;

// One backward's synchronisation: each bucket's local gradients (copied before its
// all-reduce overwrote them) and the collectives' futures.
struct GradSnapshot {
  std::vector<std::pair<at::Tensor, at::Tensor>> saved;  // (parameter, its local gradient)
  std::vector<c10::intrusive_ptr<c10::ivalue::Future>> futures;
  void Clear();
  // Some bucket's collective completed with an error (a peer is gone).
  bool AnyFailed() const;
};

// The reducer's communication for a recoverable DDP: the mean all-reduce of torch's
// default DDP hook (each bucket scaled by 1/W, then summed over `group`), after saving
// the bucket's local gradients and the collective's future into `snapshot`.
std::unique_ptr<c10d::CommHookInterface> MakeSnapshotAllReduceHook(
    c10::intrusive_ptr<c10d::ProcessGroup> group, std::shared_ptr<GradSnapshot> snapshot);

// Puts each saved local gradient back into its parameter's .grad (allocating it where
// the parameter has none), then clears the snapshot. No communication. `rank` names
// the rank in errors.
absl::Status RestoreLocalGradients(int rank, GradSnapshot& snapshot);

// Every parameter's gradient (zeros where it has none) averaged over comm's ranks as the
// reducer does it: bucket by bucket in `buckets`' order, each bucket's gradients
// flattened in its order, scaled by 1/W, then summed (so every rank gets bit-identical
// sums whatever path it came by). Collective.
absl::Status AllReduceBucketsNow(Communicator& comm, std::vector<at::Tensor>& params,
                                 const Buckets& buckets);

// The layout as the flat list a donor sends: [buckets, n0, i..., n1, i...].
std::vector<int64_t> EncodeBucketLayout(const Buckets& buckets);
// The inverse, for a model of `num_params` trainable parameters. InvalidArgument for a
// malformed list (truncated, trailing values, negative counts) or an index out of range.
absl::StatusOr<Buckets> DecodeBucketLayout(const std::vector<int64_t>& layout, size_t num_params);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_DDP_RECOVERY_H_
