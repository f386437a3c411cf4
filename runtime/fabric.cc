// Fabric (fabric.h): one file over 500 lines because it is the API object users call
// (setup, backward, collectives, no-sync, clipping, checkpoints) delegating to the
// strategy, precision and checkpoint parts; each method is short.
#include "runtime/fabric.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ATen/DeviceAccelerator.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/cuda_probe.h"
#include "runtime/heartbeat.h"
#include "runtime/recovery.h"
#include "runtime/rng_state.h"
#include "runtime/sharded_state.h"
#include "runtime/sharding.h"
#include "runtime/spare.h"
#include "torch/torch.h"

namespace fabric::runtime {

EnvMap Fabric::ProcessEnv() { return ReadProcessEnv(); }

namespace {

// Checkpoint names: the first model's tensors under their own names, the n-th's under
// "model<n>:" (fabric.h, Save).
std::string ModelPrefix(int index) { return index == 0 ? "" : absl::StrCat("model", index, ":"); }

// The tensors of model `index` in `all`, with its prefix removed.
TensorMap Unprefixed(const TensorMap& all, int index) {
  const std::string prefix = ModelPrefix(index);
  TensorMap out;
  for (const auto& [k, v] : all) {
    if (prefix.empty()) {
      if (k.rfind("model", 0) == 0 && k.find(':') != std::string::npos) continue;
      out[k] = v;
    } else if (k.compare(0, prefix.size(), prefix) == 0) {
      out[k.substr(prefix.size())] = v;
    }
  }
  return out;
}

// Removes dir's "step-*" subdirectories other than `keep` (older sharded checkpoints).
void RemoveOtherStepDirs(const std::string& dir, const std::string& keep) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind("step-", 0) != 0 || name == keep) continue;
    const std::string sub = dir + "/" + name;
    if (DIR* s = opendir(sub.c_str())) {
      while (dirent* f = readdir(s)) {
        if (f->d_name[0] != '.') unlink((sub + "/" + f->d_name).c_str());
      }
      closedir(s);
    }
    rmdir(sub.c_str());
  }
  closedir(d);
}

// The generators' states into a checkpoint (rng_state.h: CPU, and CUDA on a GPU).
absl::Status PutRngStates(int rank, const at::Device& device, CheckpointData* data) {
  FABRIC_ASSIGN_OR_RETURN(RngStates rng, ReadRngStates(rank, device));
  data->rng_state = rng.cpu;
  data->cuda_rng_state = rng.cuda;
  return absl::OkStatus();
}

// Collective: rank 0's `written` (the others pass OK) reaches every rank. Returns
// `written` on rank 0, and on the others OK, or Aborted "rank R: save WHAT: rank 0
// failed to DOING" when rank 0's failed: no rank returns before rank 0's write is over.
absl::Status ShareRankZeroOutcome(Communicator& comm, const absl::Status& written,
                                  absl::string_view what, absl::string_view doing) {
  at::Tensor flag = at::scalar_tensor(written.ok() ? 0 : 1, at::kInt).reshape({1});
  FABRIC_RETURN_IF_ERROR(comm.Broadcast(flag, 0));
  if (!written.ok()) return written;
  if (flag.item<int>() != 0) {
    return absl::AbortedError(
        absl::StrCat("rank ", comm.rank(), ": save ", what, ": rank 0 failed to ", doing));
  }
  return absl::OkStatus();
}

}  // namespace

Fabric::Fabric(const RuntimeConfig& config, RuntimeEnv env)
    : config_(config), env_(std::move(env)) {
  if (config_.accelerator == Accelerator::kCuda) {
    device_ = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(config_.device_index));
  }
  recovery_ = std::make_unique<Recovery>(
      Recovery::FabricState{&config_, &comm_, &scaler_, &steps_done_, device_}, env_.control_fifo,
      env_.gloo_interface);
}

absl::StatusOr<std::unique_ptr<Fabric>> Fabric::Create(const FabricOptions& options,
                                                       const EnvMap& env) {
  FABRIC_ASSIGN_OR_RETURN(RuntimeConfig config, ResolveConfig(options, env, ProbeCuda()));
  return std::unique_ptr<Fabric>(new Fabric(config, RuntimeEnv::FromMap(env)));
}

absl::StatusOr<std::unique_ptr<Fabric>> Fabric::Create(const FabricOptions& options) {
  EnvMap env = ReadProcessEnv();
  const std::string spare_fifo = RuntimeEnv::FromMap(env).spare_fifo;
  if (!spare_fifo.empty()) {
    // A spare (runtime/spare.h): wait, loaded, for the rank to take over; the
    // assignment replaces the environment, read again. An NCCL job is refused first.
    FABRIC_RETURN_IF_ERROR(CheckSpareBackend(options, env, ProbeCuda()));
    FABRIC_RETURN_IF_ERROR(WaitForAssignment(spare_fifo));
    env = ReadProcessEnv();
    std::fprintf(stderr, "fabric runtime: spare (pid %d) takes over rank %s\n",
                 static_cast<int>(getpid()),
                 env.count(kEnvRank) != 0 ? env.at(kEnvRank).c_str() : "?");
  }
  return Create(options, env);
}

Fabric::~Fabric() = default;

std::optional<int64_t> Fabric::joined_at_step() const { return recovery_->joined_at_step(); }
int Fabric::recoveries() const { return recovery_->recoveries(); }

absl::Status Fabric::Launch(absl::Duration timeout) {
  if (launched_) return absl::FailedPreconditionError("Fabric::Launch called twice");
  OpenHeartbeatFile(env_.heartbeat_file);  // under fabric-run (runtime/heartbeat.h)
  InstallHangStackHandler();               // under fabric-run: a hung rank's stack on SIGABRT
  ReportTotalSteps(static_cast<uint64_t>(total_steps_));  // as set before Launch
  if (reported_step_.has_value()) ReportStep(static_cast<uint64_t>(*reported_step_));
  Beat();
  if (device_.is_cuda()) {
    FABRIC_RETURN_IF_ERROR(TorchCall(config_.rank, absl::StrCat("select ", device_.str()),
                                     [&] { at::accelerator::setDeviceIndex(device_.index()); }));
  }
  if (config_.num_threads > 0) {
    FABRIC_RETURN_IF_ERROR(TorchCall(config_.rank, "set_num_threads",
                                     [&] { torch::set_num_threads(config_.num_threads); }));
  }
  CommunicatorOptions co = recovery_->CommOptions(timeout);
  if (config_.replacement) {
    // In the place of a failed rank: join the running job's store (rank 0 serves it)
    // and the re-formation the live ranks wait for (recovery.h).
    FABRIC_RETURN_IF_ERROR(recovery_->JoinAsReplacement(co, timeout));
  }
  FABRIC_ASSIGN_OR_RETURN(comm_, Communicator::Create(co));
  if (config_.replacement) FABRIC_RETURN_IF_ERROR(recovery_->ElectDonor(/*my_steps=*/-1));
  if (config_.precision == Precision::k16Mixed) {
    FABRIC_ASSIGN_OR_RETURN(scaler_, TorchCall(config_.rank, "create the gradient scaler", [&] {
                              return std::make_unique<GradScaler>(device_, scaler_options_);
                            }));
  }
  launched_ = true;
  return absl::OkStatus();
}

absl::StatusOr<Fabric::Model*> Fabric::Setup(std::shared_ptr<torch::nn::Module> module,
                                             const OptimizerFactory& factory) {
  return SetupNamed(std::move(module), [&](std::vector<NamedTensor> named) {
    std::vector<at::Tensor> params;
    for (NamedTensor& n : named) params.push_back(std::move(n.tensor));
    return factory(std::move(params));
  });
}

absl::StatusOr<Fabric::Model*> Fabric::Setup(std::shared_ptr<torch::nn::Module> module,
                                             const NamedOptimizerFactory& factory) {
  return SetupNamed(std::move(module), factory);
}

absl::StatusOr<Fabric::Model*> Fabric::SetupNamed(std::shared_ptr<torch::nn::Module> module,
                                                  const NamedOptimizerFactory& factory) {
  if (!launched_) return absl::FailedPreconditionError("Fabric::Setup before Launch()");
  if (module == nullptr) return absl::InvalidArgumentError("Fabric::Setup: null module");
  for (const auto& m : models_) {
    if (m->module_ == module) {
      return absl::FailedPreconditionError(
          absl::StrCat("Fabric::Setup: this module was set up already (model ", m->index_, ")"));
    }
  }
  FABRIC_RETURN_IF_ERROR(TorchCall(rank(), absl::StrCat("move the module to ", device_.str()),
                                   [&] { module->to(device_, ParamDtype(config_.precision)); }));
  auto model = std::make_unique<Model>();
  model->index_ = static_cast<int>(models_.size());
  model->module_ = std::move(module);
  if (config_.strategy == StrategyKind::kFsdp) {
    model->strategy_ = MakeFsdpStrategy(comm_.get(), config_.fsdp);
  } else {
    DdpOptions ddp;
    ddp.find_unused_parameters = config_.find_unused_parameters;
    ddp.recoverable = recovery_->RecoversInPlace(model->index_);
    ddp.initial_broadcast = !(config_.replacement && models_.empty());
    model->strategy_ = MakeDdpStrategy(comm_.get(), ddp);
  }
  FABRIC_RETURN_IF_ERROR(recovery_->CheckRecoverable(*model->strategy_, model->index_));
  FABRIC_ASSIGN_OR_RETURN(std::vector<NamedTensor> params, model->strategy_->Setup(model->module_));
  FABRIC_ASSIGN_OR_RETURN(model->optimizer_, TorchCall(rank(), "create optimizer",
                                                       [&] { return factory(std::move(params)); }));
  if (model->optimizer_ == nullptr) {
    return absl::InvalidArgumentError("Fabric::Setup: the optimizer factory returned null");
  }
  models_.push_back(std::move(model));
  if (config_.replacement && models_.size() == 1) {
    Model& first = *models_.back();
    FABRIC_RETURN_IF_ERROR(
        recovery_->ReceiveStateAsReplacement(*first.strategy_, *first.optimizer_));
  }
  return models_.back().get();
}

std::vector<Fabric::Model*> Fabric::AllModels() const {
  std::vector<Model*> out;
  for (const auto& m : models_) out.push_back(m.get());
  return out;
}

torch::optim::Optimizer* Fabric::optimizer() const {
  return models_.empty() ? nullptr : models_[0]->optimizer_.get();
}

absl::Status Fabric::BeginForward(const std::vector<Model*>& models) {
  if (models_.empty()) return absl::FailedPreconditionError("Forward before Setup()");
  for (Model* m : models) {
    if (m->index_ == 0 && m->strategy_->recovery() != nullptr && Syncs(*m)) {
      recovery_->RememberStepRng();  // what a replacement's forward must draw from
    }
    absl::Status pre = m->strategy_->PreForward(Syncs(*m));
    if (!pre.ok() && m->index_ == 0 && m->strategy_->recovery() != nullptr) {
      // Only the buffers' broadcast communicates here: a peer is gone.
      pre = recovery_->RecoverInPlace(*m->strategy_, *m->optimizer_, pre,
                                      Recovery::Point::kBeforeForward);
    }
    FABRIC_RETURN_IF_ERROR(pre);
    m->in_backward_ = true;
  }
  return absl::OkStatus();
}

absl::Status Fabric::EndForward(const std::vector<Model*>& models,
                                const std::vector<at::Tensor>& outputs) {
  for (Model* m : models) FABRIC_RETURN_IF_ERROR(m->strategy_->PostForward(outputs, Syncs(*m)));
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> Fabric::ToDevice(const at::Tensor& tensor) const {
  return TorchCall(rank(), absl::StrCat("move a tensor to ", device_.str()),
                   [&] { return ConvertInput(tensor.to(device_), config_.precision); });
}

absl::Status Fabric::Synchronize() const {
  if (!device_.is_cuda()) return absl::OkStatus();
  return TorchCall(rank(), "synchronize",
                   [&] { at::accelerator::synchronizeDevice(device_.index()); });
}

double Fabric::LossScale() const { return scaler_ == nullptr ? 1.0 : scaler_->scale(); }

absl::Status Fabric::Backward(const at::Tensor& loss) {
  if (models_.empty()) return absl::FailedPreconditionError("Backward before Setup()");
  absl::Status backward = TorchCall(rank(), "backward", [&] {
    if (scaler_ != nullptr) {
      scaler_->Scale(loss).backward();
    } else {
      loss.backward();
    }
  });
  if (!backward.ok()) {
    Model& first = *models_[0];
    InPlaceRecovery* rec = first.strategy_->recovery();
    if (rec != nullptr && rec->GradSyncFailed()) {
      first.in_backward_ = false;  // the recovery redoes its synchronisation
      return recovery_->RecoverInPlace(*first.strategy_, *first.optimizer_, backward,
                                       Recovery::Point::kGradientSync);
    }
    return backward;
  }
  for (const auto& m : models_) {
    if (!m->in_backward_) continue;
    m->in_backward_ = false;
    FABRIC_RETURN_IF_ERROR(m->strategy_->PostBackward(Syncs(*m)));
  }
  return absl::OkStatus();
}

absl::Status Fabric::UnscaleOnce(Model& model) {
  if (scaler_ == nullptr || model.found_inf_.defined()) return absl::OkStatus();
  return TorchCall(rank(), "unscale gradients", [&] {
    std::vector<at::Tensor> params;
    for (auto& g : model.optimizer_->param_groups()) {
      params.insert(params.end(), g.params().begin(), g.params().end());
    }
    model.found_inf_ = scaler_->Unscale(params);
  });
}

absl::Status Fabric::Step(Model* model) {
  if (model == nullptr) return absl::InvalidArgumentError("Fabric::Step: null model");
  Beat();  // every optimizer step (runtime/heartbeat.h)
  if (model->index_ == 0 && recovery_->TakeSkipNextStep()) {
    // This step's update came with the state a peer sent during an in-place recovery.
    SetStep(steps_done_ + reported_step_bias_);  // the count the peer's state came with
    return model->strategy_->ZeroGrad();
  }
  bool skip = false;
  at::Tensor found_inf;
  if (scaler_ != nullptr) {
    // Unscaled already when ClipGradients came first; every rank skips together.
    FABRIC_RETURN_IF_ERROR(UnscaleOnce(*model));
    found_inf = model->found_inf_;
    model->found_inf_ = at::Tensor();
    FABRIC_RETURN_IF_ERROR(comm_->AllReduce(found_inf, ReduceOp::kMax));
    FABRIC_ASSIGN_OR_RETURN(
        skip, TorchCall(rank(), "read the inf flag", [&] { return found_inf.item<float>() > 0; }));
  }
  if (!skip) {
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "optimizer step", [&] {
      torch::NoGradGuard no_grad;
      model->optimizer_->step();
    }));
  }
  if (scaler_ != nullptr) {
    FABRIC_RETURN_IF_ERROR(
        TorchCall(rank(), "update the loss scale", [&] { scaler_->Update(found_inf); }));
  }
  FABRIC_RETURN_IF_ERROR(model->strategy_->PostStep());
  if (model->index_ == 0) {
    ++steps_done_;
    SetStep(steps_done_ + reported_step_bias_);
  }
  return model->strategy_->ZeroGrad();
}

absl::Status Fabric::Step() {
  if (models_.empty()) return absl::FailedPreconditionError("Step before Setup()");
  for (const auto& m : models_) FABRIC_RETURN_IF_ERROR(Step(m.get()));
  return absl::OkStatus();
}

absl::Status Fabric::ZeroGrad() {
  for (const auto& m : models_) {
    m->found_inf_ = at::Tensor();
    FABRIC_RETURN_IF_ERROR(m->strategy_->ZeroGrad());
  }
  return absl::OkStatus();
}

absl::StatusOr<double> Fabric::ClipGradients(Model* model, double max_norm) {
  if (model == nullptr) return absl::InvalidArgumentError("ClipGradients: null model");
  if (!(max_norm > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClipGradients: max_norm=", max_norm, " must be positive"));
  }
  FABRIC_RETURN_IF_ERROR(UnscaleOnce(*model));  // clip the true gradients, not the scaled
  return model->strategy_->ClipGradNorm(max_norm);
}

absl::StatusOr<double> Fabric::ClipGradients(double max_norm) {
  if (models_.empty()) return absl::FailedPreconditionError("ClipGradients before Setup()");
  if (models_.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("ClipGradients: ", models_.size(),
                                                   " models are set up; pass the one to clip"));
  }
  return ClipGradients(models_[0].get(), max_norm);
}

absl::StatusOr<at::Tensor> Fabric::AllReduce(const at::Tensor& tensor, ReduceOp op) {
  if (comm_ == nullptr) return absl::FailedPreconditionError("AllReduce before Launch()");
  FABRIC_ASSIGN_OR_RETURN(at::Tensor out,
                          TorchCall(rank(), "allreduce", [&] { return tensor.clone(); }));
  FABRIC_RETURN_IF_ERROR(comm_->AllReduce(out, op));
  return out;
}

absl::StatusOr<at::Tensor> Fabric::AllGather(const at::Tensor& tensor) {
  if (comm_ == nullptr) return absl::FailedPreconditionError("AllGather before Launch()");
  FABRIC_ASSIGN_OR_RETURN(std::vector<at::Tensor> parts, comm_->AllGather(tensor));
  return TorchCall(rank(), "allgather", [&] { return at::stack(parts); });
}

absl::StatusOr<at::Tensor> Fabric::Broadcast(const at::Tensor& tensor, int src) {
  if (comm_ == nullptr) return absl::FailedPreconditionError("Broadcast before Launch()");
  FABRIC_ASSIGN_OR_RETURN(at::Tensor out,
                          TorchCall(rank(), "broadcast", [&] { return tensor.clone(); }));
  FABRIC_RETURN_IF_ERROR(comm_->Broadcast(out, src));
  return out;
}

absl::Status Fabric::Barrier() {
  if (comm_ == nullptr) return absl::FailedPreconditionError("Barrier before Launch()");
  return comm_->Barrier();
}

absl::Status Fabric::Save(const std::string& path, const TrainState& state,
                          const AtomicWriteOptions& write_options) {
  if (models_.empty()) return absl::FailedPreconditionError("Save before Setup()");
  CheckpointData data;
  data.step = state.step;
  data.world_size = world_size();
  data.extra = state.extra;
  for (const auto& m : models_) {
    const std::string prefix = ModelPrefix(m->index_);
    // Gathered on rank 0 only: the others hold one FSDP unit at a time.
    FABRIC_ASSIGN_OR_RETURN(TensorMap model_state,
                            m->strategy_->FullModelState(FullStateOn::kRankZero));
    FABRIC_ASSIGN_OR_RETURN(TensorMap optim_state, m->strategy_->FullOptimizerState(
                                                       *m->optimizer_, FullStateOn::kRankZero));
    for (auto& [k, v] : model_state) data.model[prefix + k] = v;
    for (auto& [k, v] : optim_state) data.optimizer[prefix + k] = v;
  }
  absl::Status written = absl::OkStatus();
  if (IsGlobalZero()) {
    FABRIC_RETURN_IF_ERROR(PutRngStates(rank(), device_, &data));
    written = WriteCheckpoint(path, data, rank(), write_options);
  }
  // Everyone learns whether rank 0's write worked, and returns only after it did.
  return ShareRankZeroOutcome(*comm_, written, path, "write the checkpoint");
}

absl::Status Fabric::SaveSharded(const std::string& dir, const TrainState& state) {
  if (models_.empty()) return absl::FailedPreconditionError("SaveSharded before Setup()");
  const std::string step_dir = absl::StrCat(dir, "/step-", state.step);
  // Every rank writes its own file; then everyone learns whether all did.
  absl::Status written = [&]() -> absl::Status {
    if (IsGlobalZero()) {
      for (const std::string& d : {dir, step_dir}) {
        if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
          return absl::PermissionDeniedError(
              absl::StrCat("rank 0: save ", d, ": mkdir: ", std::strerror(errno)));
        }
      }
    }
    FABRIC_RETURN_IF_ERROR(comm_->Barrier());  // the directory exists for everyone
    TensorMap mine;
    for (const auto& m : models_) {
      FABRIC_ASSIGN_OR_RETURN(TensorMap local, m->strategy_->LocalShardState(*m->optimizer_));
      for (auto& [k, v] : local) mine[ModelPrefix(m->index_) + k] = v;
    }
    return WriteTensorFile(absl::StrCat(step_dir, "/rank", rank(), ".ckpt"), mine, rank());
  }();
  at::Tensor failures = at::scalar_tensor(written.ok() ? 0 : 1, at::kInt).reshape({1});
  FABRIC_RETURN_IF_ERROR(comm_->AllReduce(failures, ReduceOp::kSum));
  if (!written.ok()) return written;
  if (failures.item<int>() != 0) {
    return absl::AbortedError(absl::StrCat("rank ", rank(), ": save ", step_dir, ": ",
                                           failures.item<int>(), " rank(s) failed to write"));
  }
  if (IsGlobalZero()) {
    CheckpointData meta;
    meta.step = state.step;
    meta.world_size = world_size();
    meta.extra = state.extra;
    FABRIC_RETURN_IF_ERROR(PutRngStates(rank(), device_, &meta));
    written = WriteCheckpoint(step_dir + "/meta.ckpt", meta, rank());
    if (written.ok()) {
      written = WriteFileAtomically(dir + "/latest", absl::StrCat("step-", state.step, "\n"));
    }
    if (written.ok()) RemoveOtherStepDirs(dir, absl::StrCat("step-", state.step));
  }
  return ShareRankZeroOutcome(*comm_, written, dir, "finish the checkpoint");
}

absl::StatusOr<CheckpointData> Fabric::ReadSharded(const std::string& dir) {
  FABRIC_ASSIGN_OR_RETURN(std::string latest, ReadWholeFile(dir + "/latest"));
  while (!latest.empty() && (latest.back() == '\n' || latest.back() == ' ')) latest.pop_back();
  const std::string step_dir = dir + "/" + latest;
  FABRIC_ASSIGN_OR_RETURN(CheckpointData data, ReadCheckpoint(step_dir + "/meta.ckpt", rank()));
  std::vector<TensorMap> ranks;
  for (int64_t r = 0; r < data.world_size; ++r) {
    FABRIC_ASSIGN_OR_RETURN(TensorMap m,
                            ReadTensorFile(absl::StrCat(step_dir, "/rank", r, ".ckpt"), rank()));
    ranks.push_back(std::move(m));
  }
  // Each model's keys carry its prefix (model<n>:); assemble every model's part.
  for (const auto& model : models_) {
    const std::string prefix = ModelPrefix(model->index_);
    std::vector<TensorMap> part(ranks.size());
    for (size_t r = 0; r < ranks.size(); ++r) part[r] = Unprefixed(ranks[r], model->index_);
    FABRIC_ASSIGN_OR_RETURN(FullState full, AssembleFullState(part));
    for (auto& [k, v] : full.model) data.model[prefix + k] = v;
    for (auto& [k, v] : full.optimizer) data.optimizer[prefix + k] = v;
  }
  return data;
}

absl::StatusOr<TrainState> Fabric::Load(const std::string& path) {
  if (models_.empty()) return absl::FailedPreconditionError("Load before Setup()");
  struct stat st {};
  const bool sharded = stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  FABRIC_ASSIGN_OR_RETURN(CheckpointData data,
                          sharded ? ReadSharded(path) : ReadCheckpoint(path, rank()));
  for (const auto& m : models_) {
    FABRIC_RETURN_IF_ERROR(m->strategy_->LoadFullModelState(Unprefixed(data.model, m->index_)));
    FABRIC_RETURN_IF_ERROR(m->strategy_->LoadFullOptimizerState(
        *m->optimizer_, Unprefixed(data.optimizer, m->index_)));
  }
  FABRIC_RETURN_IF_ERROR(
      RestoreRngStates(rank(), device_, RngStates{data.rng_state, data.cuda_rng_state}));
  TrainState out;
  out.step = data.step;
  out.extra = std::move(data.extra);
  steps_done_ = data.step;
  SetStep(steps_done_ + reported_step_bias_);
  return out;
}

void Fabric::SetStep(int64_t step) {
  if (step < 0) return;
  reported_step_bias_ = step - steps_done_;
  reported_step_ = step;
  ReportStep(static_cast<uint64_t>(step));
}

void Fabric::SetTotalSteps(int64_t total) {
  if (total < 0) return;
  total_steps_ = total;
  ReportTotalSteps(static_cast<uint64_t>(total));
}

void Fabric::SeedEverything(uint64_t seed) { torch::manual_seed(seed); }  // CPU and CUDA

void Fabric::Print(absl::string_view line) const {
  if (!IsGlobalZero()) return;
  std::string out = absl::StrCat(line, "\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

std::vector<int64_t> Fabric::DistributedIndices(int64_t dataset_size, int64_t epoch, bool shuffle,
                                                uint64_t seed) const {
  return DistributedSamplerIndices(dataset_size, world_size(), rank(), epoch, seed, shuffle,
                                   /*drop_last=*/false);
}

absl::StatusOr<TensorMap> Fabric::ModelStateDict(Model* model, bool rank_zero_only) {
  if (models_.empty()) return absl::FailedPreconditionError("ModelStateDict before Setup()");
  return (model == nullptr ? models_[0].get() : model)
      ->strategy_->FullModelState(rank_zero_only ? FullStateOn::kRankZero
                                                 : FullStateOn::kEveryRank);
}

MemoryStats Fabric::Memory() {
  MemoryStats total;
  for (const auto& m : models_) {
    MemoryStats s = m->strategy_->Memory(*m->optimizer_);
    total.param_bytes += s.param_bytes;
    total.grad_bytes += s.grad_bytes;
    total.optimizer_state_bytes += s.optimizer_state_bytes;
  }
  return total;
}

}  // namespace fabric::runtime
