#include "runtime/rng_state.h"

#include <mutex>

#include "ATen/Context.h"
#include "ATen/core/Generator.h"
#include "runtime/torch_status.h"

namespace fabric::runtime {
namespace {

at::Tensor StateOf(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

// `gen` by value: a Generator is a shared handle (the global one itself).
void SetStateOf(at::Generator gen, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

absl::StatusOr<RngStates> ReadRngStates(int rank, const c10::Device& device) {
  return TorchCall(rank, "read RNG state", [&] {
    RngStates s;
    s.cpu = StateOf(at::detail::getDefaultCPUGenerator());
    if (device.is_cuda()) s.cuda = StateOf(at::globalContext().defaultGenerator(device));
    return s;
  });
}

absl::Status RestoreRngStates(int rank, const c10::Device& device, const RngStates& states) {
  return TorchCall(rank, "restore RNG state", [&] {
    if (states.cpu.defined()) SetStateOf(at::detail::getDefaultCPUGenerator(), states.cpu);
    if (states.cuda.defined() && device.is_cuda()) {
      SetStateOf(at::globalContext().defaultGenerator(device), states.cuda);
    }
  });
}

}  // namespace fabric::runtime
