// How a model's parameters, gradients and optimizer state are placed across ranks.
//
//  - DDP (also "single" with one rank): every rank holds the full model; parameters
//    and buffers are broadcast from rank 0 at setup (buffers again before each
//    forward); c10d's Reducer, the engine under torch's DistributedDataParallel,
//    all-reduces gradient buckets from autograd hooks while backward still runs
//    (bucket_cap_bytes after the first iteration) and averages them. Frozen parameters
//    (requires_grad false) are left out.
//  - FSDP: the trainable parameters are grouped into units by an auto-wrap policy
//    (FsdpOptions: each transformer layer, or each submodule of at least N parameters;
//    what no unit claims is the root unit). Each unit is one flat buffer (padded to a
//    multiple of W) of which each rank keeps 1/W as the tensor its optimizer updates,
//    so parameter and optimizer-state memory between steps is 1/W. Before forward
//    every unit's all-gather is started at once (the later ones run while the earlier
//    ones are unpacked) and the module's parameters become views of the full buffers.
//    In backward, autograd's post-accumulate hooks hand each gradient to its unit,
//    which frees it; once a unit's last gradient arrived, its reduce-scatter starts
//    (overlapping the rest of backward) and its full parameters are freed, so at most
//    the gradients of the units still in backward are alive at once. Buffers and frozen
//    parameters stay whole on every rank. LibTorch's C++ modules have no forward hooks,
//    so a unit is gathered just before its own forward (and freed right after, and
//    gathered again just before its backward) only when the model runs that forward
//    through RunUnit (fsdp_unit.h); the other units are gathered before the forward pass.
//    A unit's full buffer is freed by shrinking its storage to 0 bytes, so the views
//    autograd saved see the data again once backward refills the same storage.
//
// The full (unsharded) state is exchanged in a strategy-independent form: parameters
// by their module names, optimizer state as "<name>/<key>" (see optim_state.h), so a
// checkpoint from any strategy and world size loads into any other.
//
// Thread safety: not thread-safe; one training thread drives a strategy. Every
// method that communicates must be called on all ranks in the same order.
#ifndef FABRIC_RUNTIME_STRATEGY_H_
#define FABRIC_RUNTIME_STRATEGY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/communicator.h"
#include "runtime/fsdp_options.h"
#include "runtime/optim_state.h"
#include "torch/nn/module.h"
#include "torch/optim/optimizer.h"

namespace fabric::runtime {

// Bytes a rank holds between steps for training state.
struct MemoryStats {
  int64_t param_bytes = 0;
  int64_t grad_bytes = 0;
  int64_t optimizer_state_bytes = 0;
  int64_t total() const { return param_bytes + grad_bytes + optimizer_state_bytes; }
};

// A parameter (or, under FSDP, the local flat shard) with its name.
struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

// Where a full (unsharded) state is materialized.
enum class FullStateOn { kEveryRank, kRankZero };

// In-place recovery of a strategy whose every rank holds the whole model (DDP): what
// Fabric needs to re-form the group around a replacement rank in the middle of a step
// (fabric.h, "In-place recovery"). Every method but GradSyncFailed and ForgetGroup
// communicates over the group given to Rebind.
class InPlaceRecovery {
 public:
  virtual ~InPlaceRecovery() = default;
  // The last backward's gradient synchronisation failed (a bucket's collective ended in
  // an error: a peer is gone), as opposed to an error of the backward itself.
  virtual bool GradSyncFailed() const = 0;
  // Drops everything bound to the failed group (the reducer and its autograd hooks);
  // nothing may communicate until Rebind.
  virtual void ForgetGroup() = 0;
  // Binds to the re-formed group (a new reducer; checks the parameters' shapes across
  // ranks, as creating one does at setup).
  virtual absl::Status Rebind(Communicator* comm) = 0;
  // Puts back into .grad the gradients this rank computed in the failed step (each
  // bucket's were saved before its all-reduce), then all-reduces them (mean) at once:
  // the failed step's synchronisation, redone.
  virtual absl::Status ResyncLocalGradients() = 0;
  // The next synced backward does not go through the reducer: its gradients are
  // all-reduced (mean) at once after backward, as ResyncLocalGradients does on the
  // ranks that kept theirs, so every rank issues the same collectives; and no buffer
  // broadcast precedes the next forward (the buffers just came with the state).
  virtual void SyncNextManually() = 0;
  // The gradient buckets (parameter indices, in reduction order) of the current group's
  // reducer, flattened as [buckets, n0, i..., n1, i...]: the state a replacement needs
  // to reduce exactly as the others do (the same sums in the same order).
  virtual std::vector<int64_t> BucketLayout() const = 0;
  // Re-creates the reducer with the donor's BucketLayout (no communication).
  virtual absl::Status AdoptBucketLayout(const std::vector<int64_t>& layout) = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Null when the strategy cannot recover in place (FSDP: a lost rank's shard exists
  // nowhere else).
  virtual InPlaceRecovery* recovery() { return nullptr; }

  // Takes over `module`'s parameters. Returns the tensors the optimizer must update
  // (DDP: the module's trainable parameters by name; FSDP: the local flat shard,
  // "_flat_param").
  virtual absl::StatusOr<std::vector<NamedTensor>> Setup(
      std::shared_ptr<torch::nn::Module> module) = 0;
  // Before each forward (DDP: buffers from rank 0, the reducer readied; FSDP: gathers
  // the full parameters when they were freed). `sync` false inside a no-backward-sync
  // scope.
  virtual absl::Status PreForward(bool sync) = 0;
  // After each forward, with the tensors it returned (DDP: the reducer learns which
  // parameters will get gradients).
  virtual absl::Status PostForward(const std::vector<at::Tensor>& outputs, bool sync) = 0;
  // After loss.backward(). `sync` false inside a no-backward-sync scope: gradients
  // accumulate locally and are synchronised by the next synced backward.
  virtual absl::Status PostBackward(bool sync) = 0;
  // After optimizer.step() (FSDP: frees the full parameters).
  virtual absl::Status PostStep() = 0;
  virtual absl::Status ZeroGrad() = 0;
  // Scales the (synced) gradients so that their global 2-norm is at most max_norm;
  // returns the norm before clipping.
  virtual absl::StatusOr<double> ClipGradNorm(double max_norm) = 0;
  virtual MemoryStats Memory(torch::optim::Optimizer& optimizer) = 0;

  // Collective: every rank calls. kEveryRank: every rank gets the full tensors;
  // kRankZero: rank 0 gets them and the others an empty map, holding at most one FSDP
  // unit's full tensors at a time (a full checkpoint costs the other ranks no memory).
  virtual absl::StatusOr<TensorMap> FullModelState(FullStateOn on) = 0;
  virtual absl::Status LoadFullModelState(const TensorMap& state) = 0;
  virtual absl::StatusOr<TensorMap> FullOptimizerState(torch::optim::Optimizer& optimizer,
                                                       FullStateOn on) = 0;
  virtual absl::Status LoadFullOptimizerState(torch::optim::Optimizer& optimizer,
                                              const TensorMap& state) = 0;

  // What this rank holds, for a sharded checkpoint (runtime/sharded_state.h's keys); no
  // communication.
  virtual absl::StatusOr<TensorMap> LocalShardState(torch::optim::Optimizer& optimizer) = 0;
};

struct DdpOptions {
  int64_t bucket_cap_bytes = 25 << 20;  // torch's default, 25 MB
  // Parameters may get no gradient in an iteration (ddp_find_unused_parameters_true).
  // Off: such a parameter is an error naming it.
  bool find_unused_parameters = false;
  // Broadcast rank 0's parameters and buffers at Setup (off for a rank replacing a
  // failed one: its state comes from a live peer afterwards).
  bool initial_broadcast = true;
  // In-place recovery: each bucket's local gradients are saved before its all-reduce
  // (one copy of the gradients), so a failed synchronisation can be redone.
  bool recoverable = false;
};

// `comm` must outlive the strategy.
std::unique_ptr<Strategy> MakeDdpStrategy(Communicator* comm, const DdpOptions& options);
std::unique_ptr<Strategy> MakeFsdpStrategy(Communicator* comm, const FsdpOptions& options = {});

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_STRATEGY_H_
