// DDP (and single-process) strategy: see strategy.h.
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

class DdpStrategy : public Strategy {
 public:
  DdpStrategy(Communicator* comm, const DdpOptions& options) : comm_(comm), options_(options) {}

  absl::StatusOr<std::vector<at::Tensor>> Setup(
      std::shared_ptr<torch::nn::Module> module) override {
    module_ = std::move(module);
    std::vector<at::Tensor> all;
    std::vector<int64_t> bytes;
    for (auto& item : module_->named_parameters()) {
      names_.push_back(item.key());
      params_.push_back(item.value());
      bytes.push_back(NBytes(item.value()));
    }
    for (auto& b : module_->buffers()) all.push_back(b);
    all.insert(all.begin(), params_.begin(), params_.end());
    buckets_ = PlanBuckets(bytes, options_.bucket_cap_bytes);
    // Rank 0's initial values everywhere (buffers may be integers; "-true" precisions
    // make parameters double or half: each keeps its dtype).
    FABRIC_RETURN_IF_ERROR(BroadcastFromRankZero(comm_, all));
    return params_;
  }

  absl::Status PreForward() override { return absl::OkStatus(); }

  absl::Status PostBackward(bool sync) override {
    if (!sync || comm_->world_size() == 1) return absl::OkStatus();
    std::vector<at::Tensor> flats;
    FABRIC_RETURN_IF_ERROR(TorchCall(comm_->rank(), "flatten gradient buckets", [&] {
      for (const auto& bucket : buckets_) {
        std::vector<at::Tensor> views;
        for (int i : bucket) {
          at::Tensor& p = params_[i];
          if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
          views.push_back(p.grad().reshape({-1}));
        }
        flats.push_back(at::cat(views));
      }
    }));
    FABRIC_RETURN_IF_ERROR(comm_->AllReduce(flats, ReduceOp::kSum));
    return TorchCall(comm_->rank(), "unflatten gradient buckets", [&] {
      const double inv = 1.0 / comm_->world_size();
      for (size_t b = 0; b < buckets_.size(); ++b) {
        int64_t off = 0;
        for (int i : buckets_[b]) {
          at::Tensor g = params_[i].mutable_grad();
          g.copy_(flats[b].narrow(0, off, g.numel()).view(g.sizes())).mul_(inv);
          off += g.numel();
        }
      }
    });
  }

  absl::Status PostStep() override { return absl::OkStatus(); }

  absl::Status ZeroGrad() override {
    return TorchCall(comm_->rank(), "zero_grad", [&] {
      for (auto& p : params_) {
        if (p.grad().defined()) p.mutable_grad() = at::Tensor();
      }
    });
  }

  absl::StatusOr<double> ClipGradNorm(double max_norm) override {
    return TorchCall(comm_->rank(), "clip gradients", [&] {
      // One host synchronisation for the whole norm (not one per parameter).
      std::vector<at::Tensor> norms;
      for (auto& p : params_) {
        if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(at::kDouble));
      }
      if (norms.empty()) return 0.0;
      const double norm = at::stack(norms).norm(2).item<double>();
      const double coef = max_norm / (norm + 1e-6);
      if (coef < 1.0) {
        for (auto& p : params_) {
          if (p.grad().defined()) p.mutable_grad().mul_(coef);
        }
      }
      return norm;
    });
  }

  MemoryStats Memory(torch::optim::Optimizer& optimizer) override {
    MemoryStats m;
    for (auto& p : params_) {
      m.param_bytes += NBytes(p);
      m.grad_bytes += NBytes(p.grad());
    }
    m.optimizer_state_bytes = OptimizerStateBytes(optimizer);
    return m;
  }

  absl::StatusOr<TensorMap> FullModelState() override {
    TensorMap out;
    for (auto& item : module_->named_parameters()) out[item.key()] = item.value().detach();
    for (auto& item : module_->named_buffers()) out[item.key()] = item.value().detach();
    return out;
  }

  absl::Status LoadFullModelState(const TensorMap& state) override {
    return TorchCall(comm_->rank(), "load model state", [&]() -> absl::Status {
      for (auto& item : module_->named_parameters()) {
        FABRIC_RETURN_IF_ERROR(CopyNamed(state, item.key(), item.value()));
      }
      for (auto& item : module_->named_buffers()) {
        FABRIC_RETURN_IF_ERROR(CopyNamed(state, item.key(), item.value()));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<TensorMap> FullOptimizerState(torch::optim::Optimizer& optimizer) override {
    TensorMap out;
    for (size_t i = 0; i < params_.size(); ++i) {
      FABRIC_ASSIGN_OR_RETURN(TensorMap s, GetParamState(optimizer, params_[i]));
      for (auto& [key, t] : s) out[absl::StrCat(names_[i], "/", key)] = t;
    }
    return out;
  }

  absl::Status LoadFullOptimizerState(torch::optim::Optimizer& optimizer,
                                      const TensorMap& state) override {
    return TorchCall(comm_->rank(), "load optimizer state", [&]() -> absl::Status {
      for (size_t i = 0; i < params_.size(); ++i) {
        TensorMap s;
        const std::string prefix = names_[i] + "/";
        for (auto it = state.lower_bound(prefix);
             it != state.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
          s[it->first.substr(prefix.size())] = it->second;
        }
        FABRIC_RETURN_IF_ERROR(SetParamState(optimizer, params_[i], s));
      }
      return absl::OkStatus();
    });
  }

 private:
  Communicator* comm_;
  DdpOptions options_;
  std::shared_ptr<torch::nn::Module> module_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> params_;
  std::vector<std::vector<int>> buckets_;
};

}  // namespace

std::unique_ptr<Strategy> MakeDdpStrategy(Communicator* comm, const DdpOptions& options) {
  return std::make_unique<DdpStrategy>(comm, options);
}

}  // namespace fabric::runtime
