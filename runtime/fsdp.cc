// FSDP strategy (fully sharded parameters, gradients and optimizer state): see
// strategy.h. One flat parameter per model ("FULL_SHARD" of the whole module).
#include <cmath>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/module_sync.h"
#include "runtime/sharding.h"
#include "runtime/strategy.h"
#include "runtime/torch_status.h"
#include "torch/autograd.h"

namespace fabric::runtime {
namespace {

int64_t NBytes(const at::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

struct ParamInfo {
  std::string name;
  at::Tensor param;  // the module's parameter (its data is freed between steps)
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t numel = 0;
};

class FsdpStrategy : public Strategy {
 public:
  explicit FsdpStrategy(Communicator* comm) : comm_(comm), rank_(comm->rank()) {}

  absl::StatusOr<std::vector<NamedTensor>> Setup(
      std::shared_ptr<torch::nn::Module> module) override {
    module_ = std::move(module);
    // Buffers (running statistics, masks) are small and not sharded: every rank keeps
    // the full tensor, rank 0's at setup.
    // Frozen parameters likewise: they are neither sharded, synchronised nor trained.
    std::vector<at::Tensor> whole;
    for (auto& item : module_->named_buffers()) whole_.push_back({item.key(), item.value()});
    for (auto& item : module_->named_parameters()) {
      if (!item.value().requires_grad()) whole_.push_back({item.key(), item.value()});
    }
    for (auto& w : whole_) whole.push_back(w.tensor);
    FABRIC_RETURN_IF_ERROR(BroadcastFromRankZero(comm_, whole));
    int64_t offset = 0;
    for (auto& item : module_->named_parameters()) {
      if (!item.value().requires_grad()) continue;
      ParamInfo info;
      info.name = item.key();
      info.param = item.value();
      info.shape = item.value().sizes().vec();
      info.numel = item.value().numel();
      info.offset = offset;
      offset += info.numel;
      if (!params_.empty() &&
          (item.value().scalar_type() != params_[0].param.scalar_type() ||
           item.value().device() != params_[0].param.device())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "fsdp: parameter '", info.name, "' is ", item.value().toString(), " but '",
            params_[0].name, "' is ", params_[0].param.toString(),
            "; one flat shard needs one dtype and device"));
      }
      params_.push_back(std::move(info));
    }
    if (params_.empty()) {
      return absl::InvalidArgumentError("fsdp: the module has no trainable parameters");
    }
    flat_options_ = params_[0].param.options().requires_grad(false);
    layout_ = MakeShardLayout(offset, comm_->world_size());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor flat, TorchCall(rank_, "flatten parameters", [&] {
      at::Tensor f = at::zeros({layout_.padded}, flat_options_);
      for (auto& p : params_) f.narrow(0, p.offset, p.numel).copy_(p.param.detach().reshape({-1}));
      return f;
    }));
    FABRIC_RETURN_IF_ERROR(comm_->Broadcast(flat, 0));
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "shard parameters", [&] {
      shard_ = flat.narrow(0, layout_.Begin(rank_), layout_.shard_size).clone();
      shard_.set_requires_grad(true);
    }));
    FABRIC_RETURN_IF_ERROR(FreeFullParams());
    return std::vector<NamedTensor>{{"_flat_param", shard_}};
  }

  absl::Status PostForward(const std::vector<at::Tensor>&, bool) override {
    return absl::OkStatus();
  }

  absl::Status PreForward(bool) override {
    if (materialized_) return absl::OkStatus();
    FABRIC_ASSIGN_OR_RETURN(std::vector<at::Tensor> parts, comm_->AllGather(shard_.detach()));
    return TorchCall(rank_, "materialize parameters", [&] {
      at::Tensor full = at::cat(parts);
      for (auto& p : params_) {
        p.param.set_data(full.narrow(0, p.offset, p.numel).view(p.shape));
      }
      materialized_ = true;
    });
  }

  absl::Status PostBackward(bool sync) override {
    if (!sync) return absl::OkStatus();  // full gradients accumulate until the next sync
    FABRIC_ASSIGN_OR_RETURN(at::Tensor flat, TorchCall(rank_, "flatten gradients", [&] {
      at::Tensor f = at::zeros({layout_.padded}, flat_options_);
      for (auto& p : params_) {
        if (p.param.grad().defined()) {
          f.narrow(0, p.offset, p.numel).copy_(p.param.grad().reshape({-1}));
        }
      }
      return f;
    }));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor mine, comm_->ReduceScatter(flat));
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "accumulate gradient shard", [&] {
      mine.div_(comm_->world_size());
      if (shard_.grad().defined()) {
        shard_.mutable_grad().add_(mine);
      } else {
        shard_.mutable_grad() = mine;
      }
    }));
    // The full parameters are not needed again before the next forward, which
    // gathers them from the (possibly updated) shards.
    return FreeFullParams();
  }

  absl::Status PostStep() override { return FreeFullParams(); }

  absl::Status ZeroGrad() override {
    return TorchCall(rank_, "zero_grad", [&] {
      shard_.mutable_grad() = at::Tensor();
      for (auto& p : params_) p.param.mutable_grad() = at::Tensor();
    });
  }

  absl::StatusOr<double> ClipGradNorm(double max_norm) override {
    if (!shard_.grad().defined()) return 0.0;
    FABRIC_ASSIGN_OR_RETURN(at::Tensor sumsq, TorchCall(rank_, "gradient norm", [&] {
      return shard_.grad().to(at::kFloat).pow(2).sum().reshape({1});
    }));
    FABRIC_RETURN_IF_ERROR(comm_->AllReduce(sumsq, ReduceOp::kSum));
    return TorchCall(rank_, "clip gradients", [&] {
      double norm = std::sqrt(sumsq.item<double>());
      double coef = max_norm / (norm + 1e-6);
      if (coef < 1.0) shard_.mutable_grad().mul_(coef);
      return norm;
    });
  }

  MemoryStats Memory(torch::optim::Optimizer& optimizer) override {
    MemoryStats m;
    m.param_bytes = NBytes(shard_);
    m.grad_bytes = NBytes(shard_.grad());
    for (auto& p : params_) {
      if (materialized_) m.param_bytes += NBytes(p.param);
      m.grad_bytes += NBytes(p.param.grad());
    }
    m.optimizer_state_bytes = OptimizerStateBytes(optimizer);
    return m;
  }

  absl::StatusOr<TensorMap> FullModelState() override {
    FABRIC_ASSIGN_OR_RETURN(at::Tensor full, GatherFlat(shard_.detach()));
    FABRIC_ASSIGN_OR_RETURN(TensorMap out, Split(full, ""));
    for (auto& w : whole_) out[w.name] = w.tensor.detach();
    return out;
  }

  absl::Status LoadFullModelState(const TensorMap& state) override {
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "load buffers", [&]() -> absl::Status {
      for (auto& w : whole_) FABRIC_RETURN_IF_ERROR(CopyNamed(state, w.name, w.tensor));
      return absl::OkStatus();
    }));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor mine, ShardOf(state, ""));
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "load model shard", [&] {
      torch::NoGradGuard no_grad;
      shard_.copy_(mine);
    }));
    return FreeFullParams();
  }

  absl::StatusOr<TensorMap> FullOptimizerState(torch::optim::Optimizer& optimizer) override {
    FABRIC_ASSIGN_OR_RETURN(TensorMap shard_state, GetParamState(optimizer, shard_));
    TensorMap out;
    for (auto& [key, t] : shard_state) {
      if (key == "step") {
        for (auto& p : params_) out[absl::StrCat(p.name, "/step")] = t;
        continue;
      }
      FABRIC_ASSIGN_OR_RETURN(at::Tensor full, GatherFlat(t));
      FABRIC_ASSIGN_OR_RETURN(TensorMap pieces, Split(full, "/" + key));
      out.insert(pieces.begin(), pieces.end());
    }
    return out;
  }

  absl::Status LoadFullOptimizerState(torch::optim::Optimizer& optimizer,
                                      const TensorMap& state) override {
    if (params_.empty()) return absl::OkStatus();
    // The keys present for the first parameter are the keys of the whole state.
    TensorMap s;
    const std::string prefix = params_[0].name + "/";
    for (auto it = state.lower_bound(prefix);
         it != state.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      const std::string key = it->first.substr(prefix.size());
      if (key == "step") {
        s["step"] = it->second;
        continue;
      }
      FABRIC_ASSIGN_OR_RETURN(s[key], ShardOf(state, "/" + key));
    }
    return TorchCall(rank_, "load optimizer shard",
                     [&] { return SetParamState(optimizer, shard_, s); });
  }

 private:
  absl::Status FreeFullParams() {
    return TorchCall(rank_, "free full parameters", [&] {
      for (auto& p : params_) {
        p.param.set_data(at::empty({0}, flat_options_));
        p.param.mutable_grad() = at::Tensor();
      }
      materialized_ = false;
    });
  }

  absl::StatusOr<at::Tensor> GatherFlat(const at::Tensor& local) {
    FABRIC_ASSIGN_OR_RETURN(std::vector<at::Tensor> parts, comm_->AllGather(local));
    return TorchCall(rank_, "concatenate shards", [&] { return at::cat(parts); });
  }

  // Named views of a full flat tensor: "<name><suffix>".
  absl::StatusOr<TensorMap> Split(const at::Tensor& full, const std::string& suffix) {
    return TorchCall(rank_, "split flat tensor", [&] {
      TensorMap out;
      for (auto& p : params_) {
        out[p.name + suffix] = full.narrow(0, p.offset, p.numel).view(p.shape).clone();
      }
      return out;
    });
  }

  // This rank's slice of the flat tensor assembled from "<name><suffix>" entries.
  absl::StatusOr<at::Tensor> ShardOf(const TensorMap& state, const std::string& suffix) {
    return TorchCall(rank_, "reshard", [&]() -> absl::StatusOr<at::Tensor> {
      at::Tensor flat = at::zeros({layout_.padded}, flat_options_);
      for (auto& p : params_) {
        auto it = state.find(p.name + suffix);
        if (it == state.end()) {
          return absl::NotFoundError(
              absl::StrCat("checkpoint has no tensor '", p.name, suffix, "'"));
        }
        if (it->second.numel() != p.numel) {
          return absl::InvalidArgumentError(absl::StrCat(
              "checkpoint tensor '", p.name, suffix, "' has ", it->second.numel(),
              " elements but the model's parameter has ", p.numel));
        }
        flat.narrow(0, p.offset, p.numel).copy_(it->second.reshape({-1}));
      }
      return flat.narrow(0, layout_.Begin(rank_), layout_.shard_size).clone();
    });
  }

  Communicator* comm_;
  int rank_;
  std::shared_ptr<torch::nn::Module> module_;
  std::vector<ParamInfo> params_;   // the trainable parameters, sharded
  std::vector<NamedTensor> whole_;  // buffers and frozen parameters, whole on every rank
  ShardLayout layout_;
  at::TensorOptions flat_options_;  // the parameters' dtype and device
  at::Tensor shard_;  // leaf, requires grad; what the optimizer steps
  bool materialized_ = false;
};

}  // namespace

std::unique_ptr<Strategy> MakeFsdpStrategy(Communicator* comm) {
  return std::make_unique<FsdpStrategy>(comm);
}

}  // namespace fabric::runtime
