#include "launcher/gpu_processes.h"

#include <dlfcn.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace fabric::launcher {
namespace {

// NVIDIA's documented NVML ABI (nvml.h), the part used here.
using NvmlReturn = int;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr NvmlReturn kNvmlInsufficientSize = 7;
struct NvmlDevice;        // opaque nvmlDevice_st
struct NvmlProcessInfo {  // nvmlProcessInfo_t (== nvmlProcessInfo_v2_t)
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};

class NvmlGpuProcessQuery final : public GpuProcessQuery {
 public:
  using InitFn = NvmlReturn (*)();
  using CountFn = NvmlReturn (*)(unsigned int*);
  using HandleFn = NvmlReturn (*)(unsigned int, NvmlDevice**);
  using ProcessesFn = NvmlReturn (*)(NvmlDevice*, unsigned int*, NvmlProcessInfo*);

  // Takes `lib` (dlopen'ed) and the symbols; nvmlInit_v2 has succeeded.
  NvmlGpuProcessQuery(void* lib, InitFn shutdown, CountFn count, HandleFn handle,
                      ProcessesFn processes)
      : lib_(lib), shutdown_(shutdown), count_(count), handle_(handle), processes_(processes) {}
  ~NvmlGpuProcessQuery() override {
    if (shutdown_ != nullptr) shutdown_();
    dlclose(lib_);
  }
  NvmlGpuProcessQuery(const NvmlGpuProcessQuery&) = delete;
  NvmlGpuProcessQuery& operator=(const NvmlGpuProcessQuery&) = delete;

  absl::StatusOr<std::vector<std::vector<pid_t>>> PidsByDevice() override {
    unsigned int n = 0;
    if (NvmlReturn r = count_(&n); r != kNvmlSuccess) {
      return absl::UnavailableError(absl::StrCat("nvmlDeviceGetCount_v2: error ", r));
    }
    std::vector<std::vector<pid_t>> out(n);
    for (unsigned int i = 0; i < n; ++i) {
      NvmlDevice* dev = nullptr;
      if (NvmlReturn r = handle_(i, &dev); r != kNvmlSuccess) {
        return absl::UnavailableError(
            absl::StrCat("nvmlDeviceGetHandleByIndex_v2(", i, "): error ", r));
      }
      std::vector<NvmlProcessInfo> infos(64);
      NvmlReturn r = kNvmlInsufficientSize;
      unsigned int got = 0;
      for (int tries = 0; tries < 4 && r == kNvmlInsufficientSize; ++tries) {
        got = static_cast<unsigned int>(infos.size());
        r = processes_(dev, &got, infos.data());
        if (r == kNvmlInsufficientSize) infos.resize(std::max<size_t>(got, infos.size()) * 2);
      }
      if (r != kNvmlSuccess) {
        return absl::UnavailableError(
            absl::StrCat("nvmlDeviceGetComputeRunningProcesses_v3(GPU ", i, "): error ", r));
      }
      for (unsigned int k = 0; k < got && k < infos.size(); ++k) {
        out[i].push_back(static_cast<pid_t>(infos[k].pid));
      }
    }
    return out;
  }

 private:
  void* lib_;
  InitFn shutdown_;
  CountFn count_;
  HandleFn handle_;
  ProcessesFn processes_;
};

}  // namespace

std::unique_ptr<GpuProcessQuery> LoadNvmlGpuProcessQuery() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return nullptr;
  auto init = reinterpret_cast<NvmlGpuProcessQuery::InitFn>(dlsym(lib, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<NvmlGpuProcessQuery::InitFn>(dlsym(lib, "nvmlShutdown"));
  auto count = reinterpret_cast<NvmlGpuProcessQuery::CountFn>(dlsym(lib, "nvmlDeviceGetCount_v2"));
  auto handle =
      reinterpret_cast<NvmlGpuProcessQuery::HandleFn>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  auto processes = reinterpret_cast<NvmlGpuProcessQuery::ProcessesFn>(
      dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3"));
  if (init == nullptr || count == nullptr || handle == nullptr || processes == nullptr ||
      init() != kNvmlSuccess) {
    dlclose(lib);
    return nullptr;
  }
  return std::make_unique<NvmlGpuProcessQuery>(lib, shutdown, count, handle, processes);
}

std::vector<GpuHolder> StillHolding(const std::vector<std::vector<pid_t>>& by_device,
                                    const std::vector<pid_t>& pids) {
  std::vector<GpuHolder> out;
  for (size_t gpu = 0; gpu < by_device.size(); ++gpu) {
    for (pid_t pid : by_device[gpu]) {
      if (std::find(pids.begin(), pids.end(), pid) != pids.end()) {
        out.push_back(GpuHolder{pid, static_cast<int>(gpu)});
      }
    }
  }
  return out;
}

}  // namespace fabric::launcher
