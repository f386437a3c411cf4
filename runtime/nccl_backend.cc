#include "runtime/nccl_backend.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "runtime/torch_status.h"

#ifdef FABRIC_HAS_CUDA_LIBTORCH
#include "torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp"
#endif

namespace fabric::runtime {

absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const NcclBackendOptions& options) {
#ifndef FABRIC_HAS_CUDA_LIBTORCH
  (void)store;
  return absl::UnimplementedError(absl::StrCat(
      "rank ", options.rank, ": NCCL: this build's LibTorch has no CUDA; use --accelerator cpu"));
#else
  // No TORCH_NCCL_BLOCKING_WAIT here (nccl_backend.h): with it torch 2.11 creates no
  // watchdog, so a dead peer would leave the survivors blocked forever.
  return TorchCall(options.rank, "create the NCCL process group", [&] {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout));
    auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, options.rank, options.world_size,
                                                            nccl_options);
    const at::Device device(at::kCUDA, static_cast<c10::DeviceIndex>(options.device_index));
    nccl->setBoundDeviceId(device);
    nccl->eagerConnectSingleDevice(device);
    c10::intrusive_ptr<c10d::Backend> backend = nccl;
    return backend;
  });
#endif
}

}  // namespace fabric::runtime
