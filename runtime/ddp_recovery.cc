#include "runtime/ddp_recovery.h"

#include <string>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/torch_status.h"
#include "torch/csrc/distributed/c10d/ProcessGroup.hpp"
#include "torch/csrc/distributed/c10d/comm.hpp"

namespace fabric::runtime {
namespace {

class SnapshotAllReduceHook : public c10d::CommHookInterface {
 public:
  SnapshotAllReduceHook(c10::intrusive_ptr<c10d::ProcessGroup> group,
                        std::shared_ptr<GradSnapshot> snapshot)
      : group_(std::move(group)), snapshot_(std::move(snapshot)) {}

  c10::intrusive_ptr<c10::ivalue::Future> runHook(c10d::GradBucket& bucket) override {
    const std::vector<at::Tensor> params = bucket.getParameters();
    const std::vector<at::Tensor> grads = bucket.getGradients();
    for (size_t i = 0; i < params.size() && i < grads.size(); ++i) {
      snapshot_->saved.emplace_back(params[i], grads[i].clone());
    }
    std::vector<at::Tensor> tensors = {bucket.getBufferRef()};
    tensors[0].mul_(1.0 / group_->getSize());  // as the reducer's own path scales
    c10::intrusive_ptr<c10::ivalue::Future> f = group_->allreduce(tensors)->getFuture();
    snapshot_->futures.push_back(f);
    return f;
  }

  at::Tensor parseHookResult(const c10::IValue& result) override {
    return c10d::detail::parseCppCommHookResult(result);
  }

 private:
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  std::shared_ptr<GradSnapshot> snapshot_;
};

}  // namespace

void GradSnapshot::Clear() {
  saved.clear();
  futures.clear();
}

bool GradSnapshot::AnyFailed() const {
  for (const auto& f : futures) {
    if (f->completed() && f->hasError()) return true;
  }
  return false;
}

std::unique_ptr<c10d::CommHookInterface> MakeSnapshotAllReduceHook(
    c10::intrusive_ptr<c10d::ProcessGroup> group, std::shared_ptr<GradSnapshot> snapshot) {
  return std::make_unique<SnapshotAllReduceHook>(std::move(group), std::move(snapshot));
}

absl::Status RestoreLocalGradients(int rank, GradSnapshot& snapshot) {
  FABRIC_RETURN_IF_ERROR(TorchCall(rank, "ddp: restore the local gradients", [&] {
    at::NoGradGuard no_grad;
    for (auto& [param, grad] : snapshot.saved) {
      at::Tensor p = param;
      if (p.grad().defined()) {
        p.mutable_grad().copy_(grad);
      } else {
        p.mutable_grad() = grad;
      }
    }
  }));
  snapshot.Clear();
  return absl::OkStatus();
}

absl::Status AllReduceBucketsNow(Communicator& comm, std::vector<at::Tensor>& params,
                                 const Buckets& buckets) {
  const double scale = 1.0 / comm.world_size();
  for (const std::vector<size_t>& bucket : buckets) {
    at::Tensor flat;
    FABRIC_RETURN_IF_ERROR(TorchCall(comm.rank(), "ddp: gather the gradients", [&] {
      std::vector<at::Tensor> views;
      for (size_t i : bucket) {
        at::Tensor& p = params[i];
        if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
        views.push_back(p.grad().reshape({-1}));
      }
      flat = at::cat(views);
      flat.mul_(scale);
    }));
    FABRIC_RETURN_IF_ERROR(comm.AllReduce(flat, ReduceOp::kSum));
    FABRIC_RETURN_IF_ERROR(TorchCall(comm.rank(), "ddp: write the gradients back", [&] {
      int64_t off = 0;
      for (size_t i : bucket) {
        at::Tensor g = params[i].mutable_grad();
        g.copy_(flat.narrow(0, off, g.numel()).view_as(g));
        off += g.numel();
      }
    }));
  }
  return absl::OkStatus();
}

std::vector<int64_t> EncodeBucketLayout(const Buckets& buckets) {
  std::vector<int64_t> out;
  out.push_back(static_cast<int64_t>(buckets.size()));
  for (const auto& bucket : buckets) {
    out.push_back(static_cast<int64_t>(bucket.size()));
    for (size_t i : bucket) out.push_back(static_cast<int64_t>(i));
  }
  return out;
}

absl::StatusOr<Buckets> DecodeBucketLayout(const std::vector<int64_t>& layout, size_t num_params) {
  const auto malformed = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("ddp: malformed bucket layout (", layout.size(), " values): ", what));
  };
  if (layout.empty()) return malformed("no bucket count");
  const int64_t n = layout[0];
  if (n < 0) return malformed(absl::StrCat("bucket count ", n));
  Buckets out;
  size_t pos = 1;
  for (int64_t k = 0; k < n; ++k) {
    if (pos >= layout.size()) return malformed(absl::StrCat("bucket ", k, " is missing"));
    const int64_t len = layout[pos++];
    if (len < 0 || static_cast<uint64_t>(len) > layout.size() - pos) {
      return malformed(absl::StrCat("bucket ", k, " claims ", len, " parameters"));
    }
    std::vector<size_t> bucket;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t idx = layout[pos++];
      if (idx < 0 || static_cast<uint64_t>(idx) >= num_params) {
        return absl::InvalidArgumentError(
            absl::StrCat("ddp: a bucket names parameter ", idx, " of ", num_params));
      }
      bucket.push_back(static_cast<size_t>(idx));
    }
    out.push_back(std::move(bucket));
  }
  if (pos != layout.size()) return malformed("values after the last bucket");
  return out;
}

}  // namespace fabric::runtime
