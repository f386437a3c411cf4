#include "runtime/module_sync.h"

#include <map>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/torch_status.h"
#include "torch/autograd.h"
#include "torch/utils.h"

namespace fabric::runtime {

absl::Status BroadcastFromRankZero(Communicator* comm, const std::vector<at::Tensor>& tensors) {
  if (comm->world_size() == 1 || tensors.empty()) return absl::OkStatus();
  std::map<std::pair<at::ScalarType, std::string>, std::vector<at::Tensor>> groups;
  for (const at::Tensor& t : tensors) groups[{t.scalar_type(), t.device().str()}].push_back(t);
  for (auto& [key, group] : groups) {
    FABRIC_ASSIGN_OR_RETURN(at::Tensor flat, TorchCall(comm->rank(), "flatten for broadcast", [&] {
                              std::vector<at::Tensor> views;
                              for (const at::Tensor& t : group)
                                views.push_back(t.detach().reshape({-1}));
                              return at::cat(views);
                            }));
    FABRIC_RETURN_IF_ERROR(comm->Broadcast(flat, 0));
    FABRIC_RETURN_IF_ERROR(TorchCall(comm->rank(), "copy broadcast tensors", [&] {
      torch::NoGradGuard no_grad;
      int64_t off = 0;
      for (const at::Tensor& t : group) {
        at::Tensor(t).copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
        off += t.numel();
      }
    }));
  }
  return absl::OkStatus();
}

absl::Status CopyNamed(const TensorMap& state, const std::string& name, at::Tensor target) {
  auto it = state.find(name);
  if (it == state.end()) {
    return absl::NotFoundError(absl::StrCat("checkpoint has no tensor for '", name, "'"));
  }
  if (it->second.sizes() != target.sizes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint tensor '", name, "' has shape ", c10::str(it->second.sizes()),
                     " but the model's is ", c10::str(target.sizes())));
  }
  torch::NoGradGuard no_grad;
  target.copy_(it->second);
  return absl::OkStatus();
}

}  // namespace fabric::runtime
