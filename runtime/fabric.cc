#include "runtime/fabric.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "ATen/DeviceAccelerator.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/sharding.h"
#include "torch/cuda.h"
#include "torch/torch.h"

extern char** environ;

namespace fabric::runtime {

EnvMap Fabric::ProcessEnv() {
  EnvMap env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

namespace {

// GPUs this process can use: 0 without a CUDA LibTorch, a driver or a device.
int CudaDeviceCount() {
  try {
    return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

Fabric::Fabric(const RuntimeConfig& config) : config_(config) {
  if (config_.accelerator == Accelerator::kCuda) {
    device_ = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(config_.device_index));
  }
}

absl::StatusOr<std::unique_ptr<Fabric>> Fabric::Create(const FabricOptions& options,
                                                       const EnvMap& env) {
  FABRIC_ASSIGN_OR_RETURN(RuntimeConfig config, ResolveConfig(options, env, CudaDeviceCount()));
  return std::unique_ptr<Fabric>(new Fabric(config));
}

absl::StatusOr<std::unique_ptr<Fabric>> Fabric::Create(const FabricOptions& options) {
  return Create(options, ProcessEnv());
}

Fabric::~Fabric() = default;

absl::Status Fabric::Launch(absl::Duration timeout) {
  if (launched_) return absl::FailedPreconditionError("Fabric::Launch called twice");
  if (device_.is_cuda()) {
    FABRIC_RETURN_IF_ERROR(TorchCall(config_.rank, absl::StrCat("select ", device_.str()), [&] {
      at::accelerator::setDeviceIndex(device_.index());
    }));
  }
  if (config_.num_threads > 0) {
    FABRIC_RETURN_IF_ERROR(TorchCall(config_.rank, "set_num_threads",
                                     [&] { torch::set_num_threads(config_.num_threads); }));
  }
  CommunicatorOptions co;
  co.rank = config_.rank;
  co.world_size = config_.world_size;
  co.master_addr = config_.master_addr;
  co.master_port = config_.master_port;
  co.timeout = timeout;
  if (const char* ifname = getenv("GLOO_SOCKET_IFNAME")) co.gloo_interface = ifname;
  co.cuda_backend = config_.backend;
  co.cuda_device = device_.is_cuda() ? device_.index() : -1;
  co.round = config_.round;
  FABRIC_ASSIGN_OR_RETURN(comm_, Communicator::Create(co));
  if (config_.strategy == StrategyKind::kFsdp) {
    strategy_ = MakeFsdpStrategy(comm_.get());
  } else {
    DdpOptions ddp;
    ddp.find_unused_parameters = config_.find_unused_parameters;
    strategy_ = MakeDdpStrategy(comm_.get(), ddp);
  }
  if (config_.precision == Precision::k16Mixed) {
    FABRIC_ASSIGN_OR_RETURN(scaler_, TorchCall(config_.rank, "create the gradient scaler", [&] {
      return std::make_unique<GradScaler>(device_, scaler_options_);
    }));
  }
  launched_ = true;
  return absl::OkStatus();
}

absl::Status Fabric::Setup(std::shared_ptr<torch::nn::Module> module,
                           const OptimizerFactory& factory) {
  if (!launched_) return absl::FailedPreconditionError("Fabric::Setup before Launch()");
  if (module_ != nullptr) return absl::FailedPreconditionError("Fabric::Setup called twice");
  if (module == nullptr) return absl::InvalidArgumentError("Fabric::Setup: null module");
  FABRIC_RETURN_IF_ERROR(TorchCall(rank(), absl::StrCat("move the module to ", device_.str()),
                                   [&] { module->to(device_, ParamDtype(config_.precision)); }));
  FABRIC_ASSIGN_OR_RETURN(std::vector<at::Tensor> params, strategy_->Setup(module));
  module_ = std::move(module);
  FABRIC_ASSIGN_OR_RETURN(optimizer_,
                          TorchCall(rank(), "create optimizer", [&] { return factory(params); }));
  if (optimizer_ == nullptr) {
    return absl::InvalidArgumentError("Fabric::Setup: the optimizer factory returned null");
  }
  return absl::OkStatus();
}

absl::Status Fabric::BeginForward() {
  if (module_ == nullptr) return absl::FailedPreconditionError("Forward before Setup()");
  return strategy_->PreForward(no_sync_depth_ == 0);
}

absl::Status Fabric::EndForward(const std::vector<at::Tensor>& outputs) {
  return strategy_->PostForward(outputs, no_sync_depth_ == 0);
}

absl::StatusOr<at::Tensor> Fabric::ToDevice(const at::Tensor& tensor) const {
  return TorchCall(rank(), absl::StrCat("move a tensor to ", device_.str()), [&] {
    return ConvertInput(tensor.to(device_), config_.precision);
  });
}

absl::Status Fabric::Synchronize() const {
  if (!device_.is_cuda()) return absl::OkStatus();
  return TorchCall(rank(), "synchronize", [&] { at::accelerator::synchronizeDevice(device_.index()); });
}

double Fabric::LossScale() const { return scaler_ == nullptr ? 1.0 : scaler_->scale(); }

std::vector<at::Tensor> Fabric::TrainableParams() const {
  std::vector<at::Tensor> params;
  for (auto& g : optimizer_->param_groups()) {
    params.insert(params.end(), g.params().begin(), g.params().end());
  }
  return params;
}

absl::Status Fabric::Backward(const at::Tensor& loss) {
  if (module_ == nullptr) return absl::FailedPreconditionError("Backward before Setup()");
  FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "backward", [&] {
    if (scaler_ != nullptr) {
      scaler_->Scale(loss).backward();
    } else {
      loss.backward();
    }
  }));
  return strategy_->PostBackward(no_sync_depth_ == 0);
}

absl::Status Fabric::Step() {
  if (optimizer_ == nullptr) return absl::FailedPreconditionError("Step before Setup()");
  bool skip = false;
  at::Tensor found_inf;
  if (scaler_ != nullptr) {
    // Unscaled already when ClipGradients came first; every rank skips together.
    FABRIC_ASSIGN_OR_RETURN(found_inf, TorchCall(rank(), "unscale gradients", [&] {
      scaler_->Unscale(TrainableParams());
      return scaler_->found_inf().clone();
    }));
    FABRIC_RETURN_IF_ERROR(comm_->AllReduce(found_inf, ReduceOp::kMax));
    FABRIC_ASSIGN_OR_RETURN(skip, TorchCall(rank(), "read the inf flag",
                                            [&] { return found_inf.item<float>() > 0; }));
  }
  if (!skip) {
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "optimizer step", [&] {
      torch::NoGradGuard no_grad;
      optimizer_->step();
    }));
  }
  if (scaler_ != nullptr) {
    FABRIC_RETURN_IF_ERROR(
        TorchCall(rank(), "update the loss scale", [&] { scaler_->Update(found_inf); }));
  }
  FABRIC_RETURN_IF_ERROR(strategy_->PostStep());
  return strategy_->ZeroGrad();
}

absl::Status Fabric::ZeroGrad() {
  if (strategy_ == nullptr || module_ == nullptr) return absl::OkStatus();
  return strategy_->ZeroGrad();
}

absl::StatusOr<double> Fabric::ClipGradients(double max_norm) {
  if (module_ == nullptr) return absl::FailedPreconditionError("ClipGradients before Setup()");
  if (!(max_norm > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("ClipGradients: max_norm=", max_norm,
                                                   " must be positive"));
  }
  if (scaler_ != nullptr) {  // clip the true gradients, not the scaled ones
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "unscale gradients",
                                     [&] { scaler_->Unscale(TrainableParams()); }));
  }
  return strategy_->ClipGradNorm(max_norm);
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
  if (optimizer_ == nullptr) return absl::FailedPreconditionError("Save before Setup()");
  CheckpointData data;
  data.step = state.step;
  data.world_size = world_size();
  data.extra = state.extra;
  FABRIC_ASSIGN_OR_RETURN(data.model, strategy_->FullModelState());
  FABRIC_ASSIGN_OR_RETURN(data.optimizer, strategy_->FullOptimizerState(*optimizer_));
  absl::Status written = absl::OkStatus();
  if (IsGlobalZero()) {
    FABRIC_ASSIGN_OR_RETURN(data.rng_state, TorchCall(rank(), "read RNG state", [] {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      return gen.get_state();
    }));
    written = WriteCheckpoint(path, data, rank(), write_options);
  }
  // Everyone learns whether rank 0's write worked, and returns only after it did.
  at::Tensor flag = at::scalar_tensor(written.ok() ? 0 : 1, at::kInt).reshape({1});
  FABRIC_RETURN_IF_ERROR(comm_->Broadcast(flag, 0));
  if (!written.ok()) return written;
  if (flag.item<int>() != 0) {
    return absl::AbortedError(absl::StrCat("rank ", rank(), ": save ", path,
                                           ": rank 0 failed to write the checkpoint"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainState> Fabric::Load(const std::string& path) {
  if (optimizer_ == nullptr) return absl::FailedPreconditionError("Load before Setup()");
  FABRIC_ASSIGN_OR_RETURN(CheckpointData data, ReadCheckpoint(path, rank()));
  FABRIC_RETURN_IF_ERROR(strategy_->LoadFullModelState(data.model));
  FABRIC_RETURN_IF_ERROR(strategy_->LoadFullOptimizerState(*optimizer_, data.optimizer));
  if (data.rng_state.defined()) {
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "restore RNG state", [&] {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(data.rng_state);
    }));
  }
  TrainState out;
  out.step = data.step;
  out.extra = std::move(data.extra);
  return out;
}

void Fabric::SeedEverything(uint64_t seed) { torch::manual_seed(seed); }  // CPU and CUDA

void Fabric::Print(absl::string_view line) const {
  if (!IsGlobalZero()) return;
  std::string out = absl::StrCat(line, "\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

std::vector<int64_t> Fabric::DistributedIndices(int64_t dataset_size, int64_t epoch,
                                                bool shuffle, uint64_t seed) const {
  return DistributedSamplerIndices(dataset_size, world_size(), rank(), epoch, seed, shuffle,
                                   /*drop_last=*/false);
}

absl::StatusOr<TensorMap> Fabric::ModelStateDict() {
  if (strategy_ == nullptr || module_ == nullptr) {
    return absl::FailedPreconditionError("ModelStateDict before Setup()");
  }
  return strategy_->FullModelState();
}

MemoryStats Fabric::Memory() {
  if (strategy_ == nullptr || optimizer_ == nullptr) return MemoryStats{};
  return strategy_->Memory(*optimizer_);
}

}  // namespace fabric::runtime
