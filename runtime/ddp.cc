// DDP (and single-process) strategy: see strategy.h. Its in-place recovery part
// (the gradient snapshot, the manual re-sync, the bucket layout) is ddp_recovery.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/ddp_recovery.h"
#include "runtime/grad_norm.h"
#include "runtime/module_sync.h"
#include "runtime/strategy.h"
#include "runtime/torch_status.h"
#include "torch/autograd.h"
#include "torch/csrc/distributed/c10d/ProcessGroup.hpp"
#include "torch/csrc/distributed/c10d/comm.hpp"
#include "torch/csrc/distributed/c10d/reducer.hpp"

namespace fabric::runtime {
namespace {

int64_t NBytes(const at::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

class DdpStrategy : public Strategy, public InPlaceRecovery {
 public:
  DdpStrategy(Communicator* comm, const DdpOptions& options) : comm_(comm), options_(options) {}

  InPlaceRecovery* recovery() override { return options_.recoverable ? this : nullptr; }

  bool GradSyncFailed() const override { return snapshot_->AnyFailed(); }

  void ForgetGroup() override {
    if (reducer_ != nullptr) layout_ = CurrentBuckets();
    DropReducer();
    snapshot_->futures.clear();
    comm_ = nullptr;
  }

  absl::Status Rebind(Communicator* comm) override {
    comm_ = comm;
    if (comm_->world_size() > 1 && !params_.empty()) return MakeReducer();
    return absl::OkStatus();
  }

  absl::Status ResyncLocalGradients() override {
    FABRIC_RETURN_IF_ERROR(RestoreLocalGradients(comm_->rank(), *snapshot_));
    return AllReduceBucketsNow(*comm_, params_, CurrentBuckets());
  }

  std::vector<int64_t> BucketLayout() const override {
    return EncodeBucketLayout(CurrentBuckets());
  }

  absl::Status AdoptBucketLayout(const std::vector<int64_t>& layout) override {
    FABRIC_ASSIGN_OR_RETURN(Buckets b, DecodeBucketLayout(layout, params_.size()));
    DropReducer();
    layout_ = std::move(b);
    return MakeReducer(/*verify=*/false);
  }

  void SyncNextManually() override {
    sync_next_manually_ = true;
    sync_buffers_next_ = false;
  }

  ~DdpStrategy() override { DropReducer(); }

  absl::StatusOr<std::vector<NamedTensor>> Setup(
      std::shared_ptr<torch::nn::Module> module) override {
    module_ = std::move(module);
    std::vector<at::Tensor> all;
    for (auto& item : module_->named_parameters()) {
      all.push_back(item.value());
      // Frozen parameters are neither synchronised nor handed to the optimizer.
      if (!item.value().requires_grad()) continue;
      names_.push_back(item.key());
      params_.push_back(item.value());
    }
    for (auto& b : module_->buffers()) {
      all.push_back(b);
      buffers_.push_back(b);
    }
    // Rank 0's initial values everywhere (buffers may be integers; "-true" precisions
    // make parameters double or half: each keeps its dtype).
    if (options_.initial_broadcast) FABRIC_RETURN_IF_ERROR(BroadcastFromRankZero(comm_, all));
    if (comm_->world_size() > 1 && !params_.empty()) {
      FABRIC_RETURN_IF_ERROR(MakeReducer());
    }
    std::vector<NamedTensor> out;
    for (size_t i = 0; i < params_.size(); ++i) out.push_back({names_[i], params_[i]});
    return out;
  }

  absl::Status PreForward(bool sync) override {
    if (reducer_ == nullptr) return absl::OkStatus();
    if (sync_next_manually_) return absl::OkStatus();  // hooks stay idle: no prepare_*
    // As torch's DDP (broadcast_buffers): buffers (running statistics) follow rank 0
    // before a forward that follows a synced one.
    if (sync_buffers_next_) FABRIC_RETURN_IF_ERROR(BroadcastFromRankZero(comm_, buffers_));
    if (!sync || !at::GradMode::is_enabled()) return absl::OkStatus();
    return TorchCall(comm_->rank(), "ddp: prepare for forward", [&] {
      // After the first iteration the reducer re-buckets by the order in which the
      // gradients actually arrived (bucket_cap_bytes), as torch's DDP does.
      reducer_->rebuild_buckets();
      reducer_->prepare_for_forward();
    });
  }

  absl::Status PostForward(const std::vector<at::Tensor>& outputs, bool sync) override {
    sync_buffers_next_ = sync && at::GradMode::is_enabled();
    if (reducer_ == nullptr || !sync || !at::GradMode::is_enabled()) return absl::OkStatus();
    if (sync_next_manually_) return absl::OkStatus();
    snapshot_->Clear();  // this backward's buckets
    return TorchCall(comm_->rank(), "ddp: prepare for backward", [&] {
      // With find_unused_parameters the reducer walks the graph from the outputs and
      // marks the parameters that got no gradient ready at once.
      reducer_->prepare_for_backward(options_.find_unused_parameters ? outputs
                                                                     : std::vector<at::Tensor>{});
    });
  }

  absl::Status PostBackward(bool sync) override {
    if (sync_next_manually_ && sync && reducer_ != nullptr) {
      sync_next_manually_ = false;
      return AllReduceBucketsNow(*comm_, params_, CurrentBuckets());
    }
    // The reducer all-reduced each bucket from autograd hooks while backward ran and
    // wrote the averaged gradients back when it finished: nothing is left to do but
    // to name a parameter that got no gradient (the reducer would only fail, cryptically,
    // at the next iteration).
    if (reducer_ == nullptr || !sync || options_.find_unused_parameters) {
      return absl::OkStatus();
    }
    // A model none of whose parameters got a gradient took no part in this backward (a
    // GAN's discriminator during the generator's step): fine, as in torch. Some but not
    // all: the unused-parameter error.
    size_t missing = params_.size();
    int with_grad = 0;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].grad().defined()) {
        ++with_grad;
      } else if (missing == params_.size()) {
        missing = i;
      }
    }
    if (with_grad > 0 && missing < params_.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("rank ", comm_->rank(), ": ddp: parameter '", names_[missing],
                       "' got no gradient in this backward; use strategy "
                       "ddp_find_unused_parameters_true, or freeze it (requires_grad false)"));
    }
    return absl::OkStatus();
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
      // Foreach kernels and one host synchronisation for the whole norm (grad_norm.h).
      std::vector<at::Tensor> grads;
      for (auto& p : params_) grads.push_back(p.grad());
      const double norm = std::sqrt(SquaredNormOf(grads).item<double>());
      ScaleInPlace(grads, ClipCoefficient(norm, max_norm));
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

  absl::StatusOr<TensorMap> FullModelState(FullStateOn on) override {
    TensorMap out;
    if (on == FullStateOn::kRankZero && comm_->rank() != 0) return out;
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

  absl::StatusOr<TensorMap> FullOptimizerState(torch::optim::Optimizer& optimizer,
                                               FullStateOn on) override {
    TensorMap out;
    if (on == FullStateOn::kRankZero && comm_->rank() != 0) return out;
    for (size_t i = 0; i < params_.size(); ++i) {
      FABRIC_ASSIGN_OR_RETURN(TensorMap s, GetParamState(optimizer, params_[i]));
      for (auto& [key, t] : s) out[absl::StrCat(names_[i], "/", key)] = t;
    }
    return out;
  }

  absl::StatusOr<TensorMap> LocalShardState(torch::optim::Optimizer& optimizer) override {
    // Replicated: every rank's file holds the whole state (a loader reads rank 0's).
    FABRIC_ASSIGN_OR_RETURN(TensorMap model, FullModelState(FullStateOn::kEveryRank));
    FABRIC_ASSIGN_OR_RETURN(TensorMap optim,
                            FullOptimizerState(optimizer, FullStateOn::kEveryRank));
    TensorMap out;
    for (auto& [k, v] : model) out["model/" + k] = v;
    for (auto& [k, v] : optim) out["optim/" + k] = v;
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
  // torch's DDP construction: one bucket for the first iteration (the gradients' order
  // is unknown), then rebuild_buckets() re-plans with bucket_cap_bytes and a 1 MB first
  // bucket from the order observed; buckets listed in reverse parameter order.
  absl::Status MakeReducer(bool verify = true) {
    return TorchCall(comm_->rank(), "ddp: create the reducer", [&] {
      c10::intrusive_ptr<c10d::ProcessGroup> group = comm_->group();
      if (verify) c10d::verify_params_across_processes(group, params_, std::nullopt);
      const std::vector<bool> sparse(params_.size(), false);
      const std::vector<size_t> limits =
          options_.find_unused_parameters
              ? std::vector<size_t>{static_cast<size_t>(kFirstBucketBytes),
                                    static_cast<size_t>(options_.bucket_cap_bytes)}
              : std::vector<size_t>{std::numeric_limits<size_t>::max()};
      auto [buckets, per_bucket_limits] =
          c10d::compute_bucket_assignment_by_size(params_, limits, sparse);
      std::reverse(buckets.begin(), buckets.end());
      // A re-formed group reduces in the failed group's buckets (then rebuilds them from
      // the order gradients arrive in, as the first reducer did: the same order).
      if (!layout_.empty()) buckets = layout_;
      std::unordered_map<size_t, std::string> names;
      for (size_t i = 0; i < names_.size(); ++i) names[i] = names_[i];
      reducer_ = std::make_unique<c10d::Reducer>(
          params_, std::move(buckets), group, sparse, options_.bucket_cap_bytes,
          options_.find_unused_parameters, /*gradient_as_bucket_view=*/false, std::move(names),
          kFirstBucketBytes, /*skip_all_reduce_unused_params=*/false,
          /*use_python_reducer=*/false, /*bucket_bytes_cap_list=*/std::vector<int64_t>{});
      if (options_.recoverable) {
        reducer_->register_comm_hook(MakeSnapshotAllReduceHook(group, snapshot_));
      }
    });
  }

  // The reducer's autograd hooks hold raw pointers into it: they go first. A failure to
  // remove them (LibTorch's error, through TorchCall) is ignored: the reducer goes anyway.
  void DropReducer() {
    if (reducer_ == nullptr) return;
    TorchCall(comm_ != nullptr ? comm_->rank() : -1, "ddp: remove the reducer's hooks", [&] {
      reducer_->remove_autograd_hooks();
    }).IgnoreError();
    reducer_.reset();
  }

  // The reducer's buckets as parameter indices, in reduction order.
  Buckets CurrentBuckets() const {
    std::vector<std::vector<size_t>> out;
    if (reducer_ == nullptr) return layout_;
    std::unordered_map<const void*, size_t> index;
    for (size_t i = 0; i < params_.size(); ++i) index[params_[i].unsafeGetTensorImpl()] = i;
    for (const c10d::GradBucket& b : reducer_->get_grad_buckets(/*return_zero_tensors=*/true)) {
      std::vector<size_t> bucket;
      for (const at::Tensor& p : b.getParameters())
        bucket.push_back(index.at(p.unsafeGetTensorImpl()));
      out.push_back(std::move(bucket));
    }
    return out;
  }

  static constexpr int64_t kFirstBucketBytes = 1 << 20;  // torch's _DEFAULT_FIRST_BUCKET_BYTES

  Communicator* comm_;
  DdpOptions options_;
  std::shared_ptr<torch::nn::Module> module_;
  std::vector<std::string> names_;  // of params_
  std::vector<at::Tensor> params_;  // the trainable ones
  std::vector<at::Tensor> buffers_;
  std::unique_ptr<c10d::Reducer> reducer_;  // world_size > 1 only
  bool sync_buffers_next_ = true;
  std::shared_ptr<GradSnapshot> snapshot_ = std::make_shared<GradSnapshot>();
  bool sync_next_manually_ = false;  // SyncNextManually()
  Buckets layout_;                   // the failed group's buckets (recovery)
};

}  // namespace

std::unique_ptr<Strategy> MakeDdpStrategy(Communicator* comm, const DdpOptions& options) {
  return std::make_unique<DdpStrategy>(comm, options);
}

}  // namespace fabric::runtime
