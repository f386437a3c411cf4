// fabric::runtime::Fabric: Lightning Fabric's API for C++ LibTorch programs.
//
//   FABRIC_ASSIGN_OR_RETURN(auto fabric, Fabric::Create(options));  // reads the environment
//   FABRIC_RETURN_IF_ERROR(fabric->Launch());                         // process group
//   FABRIC_RETURN_IF_ERROR(fabric->Setup(model, [](std::vector<at::Tensor> params) {
//     return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
//   }));
//   for (...) {
//     FABRIC_ASSIGN_OR_RETURN(at::Tensor loss, fabric->Forward([&] { return Loss(model, x); }));
//     FABRIC_RETURN_IF_ERROR(fabric->Backward(loss));
//     FABRIC_RETURN_IF_ERROR(fabric->Step());      // optimizer.step() + zero_grad()
//   }
//
// Under fabric-run/torchrun/srun the environment configures rank, world size, the
// store address and (LT_*) accelerator, strategy, devices, nodes and precision; an
// option set in code that contradicts LT_* is an InvalidArgument naming both values.
//
// Devices: on cuda each rank uses cuda:LOCAL_RANK among its visible GPUs (cuda:0 when
// the launcher narrowed CUDA_VISIBLE_DEVICES to one). Setup moves the module there (in
// the precision's parameter dtype); batches go there with ToDevice; Forward runs under
// the precision's autocast. Collectives: NCCL for CUDA tensors (Gloo when chosen), Gloo
// for CPU tensors. Checkpoints are device-independent.
//
// Every fallible call returns absl::Status; LibTorch exceptions are converted in
// torch_status.h. Thread safety: a Fabric is driven by one thread; collective calls
// (everything that communicates: Setup, Backward, collectives, Save, Load, ...) must
// be made by every rank in the same order.
#ifndef FABRIC_RUNTIME_FABRIC_H_
#define FABRIC_RUNTIME_FABRIC_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/worker_env.h"
#include "runtime/atomic_file.h"
#include "runtime/checkpoint.h"
#include "runtime/communicator.h"
#include "runtime/config.h"
#include "runtime/grad_scaler.h"
#include "runtime/precision.h"
#include "runtime/runtime_env.h"
#include "runtime/strategy.h"
#include "runtime/torch_status.h"

namespace fabric::runtime {

class Recovery;  // recovery.h

// Builds the optimizer over the tensors the strategy says it must update: the module's
// trainable parameters (frozen ones are left out), or under FSDP the local flat shard
// (named "_flat_param"). The named form allows parameter groups (no weight decay on
// biases).
using OptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<at::Tensor> params)>;
using NamedOptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<NamedTensor> params)>;

// What Save writes beyond models and optimizers, and Load returns.
struct TrainState {
  int64_t step = 0;
  TensorMap extra;
};

class Fabric {
 public:
  // A module set up with its optimizer: what Setup returns. A program may set up
  // several (a GAN's generator and discriminator; a teacher and a student); each has its
  // own strategy state, optimizer and no-sync scope. Owned by the Fabric: valid while
  // it lives. Not thread-safe.
  class Model {
   public:
    torch::nn::Module& module() const { return *module_; }
    torch::optim::Optimizer& optimizer() const { return *optimizer_; }
    // 0 for the first model set up, 1 for the next, ...
    int index() const { return index_; }

   private:
    friend class Fabric;
    int index_ = 0;
    std::shared_ptr<torch::nn::Module> module_;
    std::unique_ptr<Strategy> strategy_;
    std::unique_ptr<torch::optim::Optimizer> optimizer_;
    int no_sync_depth_ = 0;
    bool in_backward_ = false;  // took part in a Forward since the last Backward
    at::Tensor found_inf_;      // 16-mixed: defined once this step's gradients are unscaled
  };

  // Resolves options against `env` (see config.h). No I/O.
  static absl::StatusOr<std::unique_ptr<Fabric>> Create(const FabricOptions& options,
                                                        const EnvMap& env);
  // The same with this process's environment.
  static absl::StatusOr<std::unique_ptr<Fabric>> Create(const FabricOptions& options);
  // The process environment as a map (ReadProcessEnv, runtime_env.h).
  static EnvMap ProcessEnv();

  ~Fabric();
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  // Sets the thread count and creates the process group (waits up to `timeout` for
  // every rank). REQUIRES: called once, before anything below.
  absl::Status Launch(absl::Duration timeout = absl::Minutes(5));

  // Moves `module` to device() in the precision's dtype, hands it to the strategy (DDP:
  // rank 0's parameters everywhere; FSDP: sharded) and builds its optimizer. May be
  // called several times, once per module. REQUIRES: Launch() succeeded.
  absl::StatusOr<Model*> Setup(std::shared_ptr<torch::nn::Module> module,
                               const OptimizerFactory& factory);
  absl::StatusOr<Model*> Setup(std::shared_ptr<torch::nn::Module> module,
                               const NamedOptimizerFactory& factory);

  // Runs `f` (the forward pass, usually with the loss) in the precision's autocast
  // scope, after the strategies' pre-forward (DDP: the reducer readied; FSDP: gathers
  // the parameters) of `models` (every model set up, when not given): the ones whose
  // modules `f` runs. A tensor result comes back in float32 (Lightning's rule for every
  // precision).
  template <typename F>
  auto Forward(F&& f) -> absl::StatusOr<std::invoke_result_t<F>> {
    return Forward(AllModels(), std::forward<F>(f));
  }
  template <typename F>
  auto Forward(const std::vector<Model*>& models, F&& f)
      -> absl::StatusOr<std::invoke_result_t<F>> {
    absl::Status pre = BeginForward(models);
    if (!pre.ok()) return pre;
    auto out = TorchCall(rank(), "forward", [&] {
      AutocastScope autocast(config_.precision, device_.type());
      if constexpr (std::is_same_v<std::invoke_result_t<F>, at::Tensor>) {
        return ConvertOutput(std::forward<F>(f)());
      } else {
        return std::forward<F>(f)();
      }
    });
    if (!out.ok()) return out;
    std::vector<at::Tensor> outputs;
    if constexpr (std::is_same_v<std::invoke_result_t<F>, at::Tensor>) outputs.push_back(*out);
    absl::Status post = EndForward(models, outputs);
    if (!post.ok()) return post;
    return out;
  }

  // `tensor` on this rank's device; floating-point tensors also in the parameters'
  // dtype under a "-true" precision (so 16-true models get float16 inputs).
  absl::StatusOr<at::Tensor> ToDevice(const at::Tensor& tensor) const;
  // cpu, or cuda:<index> (valid after Create).
  at::Device device() const { return device_; }

  // Waits until this rank's device has finished the work queued so far (cuda; nothing on
  // cpu): for timing steps.
  absl::Status Synchronize() const;

  // Loss scaling for 16-mixed. REQUIRES: before Launch.
  void SetGradScalerOptions(const GradScalerOptions& options) { scaler_options_ = options; }
  // The current loss scale (16-mixed), else 1.
  double LossScale() const;

  // loss.backward() (scaled under 16-mixed), then each model that took part in a
  // Forward since the last Backward synchronises its gradients unless it is inside a
  // NoBackwardSync scope (DDP's reducer already did while backward ran).
  absl::Status Backward(const at::Tensor& loss);
  // The model's optimizer.step() (skipped, on every rank, by the 16-mixed scaler when
  // any rank's gradients are not finite), then zero_grad. Without a model: every
  // model's, in Setup order.
  absl::Status Step(Model* model);
  absl::Status Step();
  absl::Status ZeroGrad();
  // Clips the model's global gradient 2-norm (unscaling first under 16-mixed); returns
  // the norm before clipping. Without a model: REQUIRES exactly one model set up.
  absl::StatusOr<double> ClipGradients(Model* model, double max_norm);
  absl::StatusOr<double> ClipGradients(double max_norm);

  // RAII scope for gradient accumulation: backward inside it skips the gradient
  // synchronisation (of `model`, or of every model); the next Backward outside syncs
  // the accumulated gradients.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(int* depth) : depth_(depth) { ++*depth_; }
    explicit NoSyncGuard(Fabric* fabric) : NoSyncGuard(&fabric->no_sync_depth_) {}
    ~NoSyncGuard() { --*depth_; }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    int* depth_;
  };
  NoSyncGuard NoBackwardSync() { return NoSyncGuard(&no_sync_depth_); }
  NoSyncGuard NoBackwardSync(Model* model) { return NoSyncGuard(&model->no_sync_depth_); }

  // Collectives (any device's tensors). AllGather returns [world_size, ...] stacked.
  absl::StatusOr<at::Tensor> AllReduce(const at::Tensor& tensor, ReduceOp op = ReduceOp::kMean);
  absl::StatusOr<at::Tensor> AllGather(const at::Tensor& tensor);
  absl::StatusOr<at::Tensor> Broadcast(const at::Tensor& tensor, int src = 0);
  absl::Status Barrier();

  // Collective. Rank 0 writes every model (full, unsharded) and optimizer state, step,
  // RNG state and `state.extra` atomically to `path`; every rank returns after the file
  // exists. The first model's tensors are named as its parameters ("fc1.weight"), the
  // n-th's (n >= 1) "model<n>:<name>".
  absl::Status Save(const std::string& path, const TrainState& state,
                    const AtomicWriteOptions& write_options = {});
  // Collective, without gathering: every rank writes what it holds (FSDP: its shards) to
  // `dir`/step-<n>/rank<r>.ckpt, rank 0 then step-<n>/meta.ckpt (step, RNG state, extra)
  // and atomically `dir`/latest naming it, and removes older step directories. A crash
  // mid-save leaves `latest` on the previous complete one.
  absl::Status SaveSharded(const std::string& dir, const TrainState& state);
  // Every rank reads `path` (a shared filesystem): a file written by Save, or a directory
  // written by SaveSharded (every rank file of it); loads what its strategies hold (any
  // saver's world size and strategy), restores the RNG state; returns step and extra.
  absl::StatusOr<TrainState> Load(const std::string& path);

  // In-place recovery (fabric-run --recovery in-place: FABRIC_RECOVERY=in-place; DDP
  // with one model). When a peer dies while the gradients are synchronised, Backward
  // does not fail: it re-forms the group (store keys under a recovery prefix) with the
  // process fabric-run started in the dead rank's place, the lowest rank that has made
  // the most optimizer steps sends the model, optimizer state, step count and RNG state
  // to every rank, the ranks that were in that step redo its synchronisation with the
  // gradients they computed, and Backward returns OK: the loop goes on, no step is
  // lost or repeated. A rank whose peers had already finished that step takes their
  // state and its next Step() does nothing. The replacement receives the state in
  // Setup, then starts its loop at steps_done(). Any other failure (a collective
  // outside backward, the replacement not arriving within FABRIC_RECOVERY_TIMEOUT_S)
  // returns the error as before, and fabric-run restarts every worker.
  //
  // Optimizer steps taken by this job: counted by Step() from 0, or from the step a
  // checkpoint was loaded at; a replacement starts with the live ranks' count.
  int64_t steps_done() const { return steps_done_; }
  // Set (after Setup) in a process that replaced a failed rank: steps_done() then.
  std::optional<int64_t> joined_at_step() const;
  // Re-formations of the group this process took part in.
  int recoveries() const;

  // Progress, for fabric-run's status (the heartbeat file's step and total words,
  // runtime/heartbeat.h). Step() reports steps_done() on its own after each optimizer
  // step, and Load the step it loaded. SetStep(n): the reported step is n now, and each
  // later optimizer step adds one (steps_done() is not changed). SetTotalSteps(n): the
  // steps the run makes (0: unknown). Negative values are ignored; no-ops when not under
  // fabric-run. Either may be called before Launch: it is written when Launch opens the
  // heartbeat file.
  void SetStep(int64_t step);
  void SetTotalSteps(int64_t total);

  // Seeds LibTorch's CPU and CUDA generators (the same seed on every rank, as Lightning
  // does).
  void SeedEverything(uint64_t seed);
  // Writes one line to stdout on rank 0 only.
  void Print(absl::string_view line) const;

  // Indices of `dataset_size` samples for this rank in `epoch` (DistributedSampler).
  std::vector<int64_t> DistributedIndices(int64_t dataset_size, int64_t epoch, bool shuffle,
                                          uint64_t seed = 0) const;

  // Collective: the full (unsharded) parameters and buffers by name of `model` (the first
  // one when not given), on every rank; with `rank_zero_only`, on rank 0 only (the others
  // get an empty map and hold one FSDP unit at a time, as Save() does).
  absl::StatusOr<TensorMap> ModelStateDict(Model* model = nullptr, bool rank_zero_only = false);

  // Bytes of parameters, gradients and optimizer state this rank holds now (all models).
  MemoryStats Memory();

  bool IsGlobalZero() const { return config_.rank == 0; }
  int rank() const { return config_.rank; }
  int world_size() const { return config_.world_size; }
  int local_rank() const { return config_.local_rank; }
  int node_rank() const { return config_.node_rank; }
  const RuntimeConfig& config() const { return config_; }
  // The first model's optimizer (null before Setup).
  torch::optim::Optimizer* optimizer() const;
  const std::vector<std::unique_ptr<Model>>& models() const { return models_; }
  Communicator* communicator() const { return comm_.get(); }

 private:
  Fabric(const RuntimeConfig& config, RuntimeEnv env);
  std::vector<Model*> AllModels() const;
  absl::StatusOr<Model*> SetupNamed(std::shared_ptr<torch::nn::Module> module,
                                    const NamedOptimizerFactory& factory);
  absl::Status BeginForward(const std::vector<Model*>& models);
  absl::Status EndForward(const std::vector<Model*>& models,
                          const std::vector<at::Tensor>& outputs);
  bool Syncs(const Model& model) const { return no_sync_depth_ == 0 && model.no_sync_depth_ == 0; }
  // A SaveSharded directory read back: meta plus every model's assembled full state.
  absl::StatusOr<CheckpointData> ReadSharded(const std::string& dir);
  // 16-mixed: unscales the model's gradients once per step; its found_inf_ is then set.
  absl::Status UnscaleOnce(Model& model);
  RuntimeConfig config_;
  std::unique_ptr<Communicator> comm_;
  std::vector<std::unique_ptr<Model>> models_;
  at::Device device_ = at::kCPU;
  GradScalerOptions scaler_options_;
  std::unique_ptr<GradScaler> scaler_;  // 16-mixed only
  int no_sync_depth_ = 0;
  bool launched_ = false;
  int64_t steps_done_ = 0;
  int64_t reported_step_bias_ = 0;        // SetStep: the reported step is steps_done_ + this
  std::optional<int64_t> reported_step_;  // what SetStep last reported
  int64_t total_steps_ = 0;               // what SetTotalSteps last reported
  RuntimeEnv env_;                        // read once (runtime_env.h)
  std::unique_ptr<Recovery> recovery_;    // in-place recovery's state (recovery.h)
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_FABRIC_H_
