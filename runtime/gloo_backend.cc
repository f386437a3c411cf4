#include "runtime/gloo_backend.h"

#include <chrono>

#include "absl/strings/match.h"
#include "runtime/torch_status.h"
#include "torch/csrc/distributed/c10d/ProcessGroupGloo.hpp"

namespace fabric::runtime {
namespace {

bool IsLoopback(const std::string& addr) {
  return absl::StartsWith(addr, "127.") || addr == "localhost" || addr == "::1";
}

}  // namespace

absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeGlooBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const GlooBackendOptions& options) {
  return TorchCall(options.rank, "create the Gloo process group", [&] {
    auto pg_options = c10d::ProcessGroupGloo::Options::create(
        std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout)));
    if (!options.interface.empty()) {
      pg_options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(options.interface));
    } else if (IsLoopback(options.master_addr)) {
      pg_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      pg_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    pg_options->threads = 2;
    c10::intrusive_ptr<c10d::Backend> backend = c10::make_intrusive<c10d::ProcessGroupGloo>(
        store, options.rank, options.world_size, pg_options);
    return backend;
  });
}

}  // namespace fabric::runtime
