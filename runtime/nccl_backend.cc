#include "runtime/nccl_backend.h"

#include <stdlib.h>

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
  // Blocking wait: Work::wait() raises (DistBackendError, a timeout) after the timeout
  // instead of returning while the watchdog tears the process down; the caller can then
  // report which collective timed out. A user's own setting wins.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
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
