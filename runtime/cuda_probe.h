// Finding out what this process has of CUDA, for ResolveConfig (config.h's CudaProbe):
// how many GPUs it sees, and whether CUDA was there but failed to initialise. LibTorch
// answers the count with 0 on an initialisation error and says why only in a warning
// ("CUDA initialization: ..."); the probe keeps that warning, so accelerator auto never
// trains on the CPU because a driver is broken.
//
// Thread safety: call from one thread (LibTorch's warning handler is per thread).
#ifndef FABRIC_RUNTIME_CUDA_PROBE_H_
#define FABRIC_RUNTIME_CUDA_PROBE_H_

#include <functional>

#include "runtime/config.h"

namespace fabric::runtime {

// Calls `count` (LibTorch's device count) with a warning handler in place: `devices` is
// its result, `init_error` the message of a "CUDA initialization" warning it gave (the
// other warnings go on to the previous handler), or of the error it threw.
CudaProbe ProbeCudaWith(const std::function<int()>& count);

// ProbeCudaWith(torch::cuda::device_count, when LibTorch has CUDA). LibTorch counts the
// devices once per process: the first call decides.
CudaProbe ProbeCuda();

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_CUDA_PROBE_H_
