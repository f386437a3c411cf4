// Construction of c10d's ProcessGroupGloo. This is the only file of the runtime that
// includes ProcessGroupGloo.hpp (and with it gloo's headers, which the PyTorch wheel
// does not ship: Debian's libgloo-dev provides them; only opaque gloo pointer types cross
// that header, so its date need not match the gloo inside libtorch_cpu).
#ifndef FABRIC_RUNTIME_GLOO_BACKEND_H_
#define FABRIC_RUNTIME_GLOO_BACKEND_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "torch/csrc/distributed/c10d/Backend.hpp"
#include "torch/csrc/distributed/c10d/Store.hpp"

namespace fabric::runtime {

struct GlooBackendOptions {
  int rank = 0;
  int world_size = 1;
  // Collective timeout (Gloo's per-operation limit).
  absl::Duration timeout = absl::Minutes(5);
  // The interface Gloo binds (GLOO_SOCKET_IFNAME); empty: 127.0.0.1 when `master_addr`
  // is a loopback address, else the address this host's name resolves to.
  std::string interface;
  std::string master_addr;
};

// Creates the Gloo backend over `store` (it exchanges its pair addresses there; callers
// give each round its own PrefixStore). Blocks until every rank connected or the timeout.
// Returns the LibTorch error as a Status (see torch_status.h).
absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeGlooBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const GlooBackendOptions& options);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_GLOO_BACKEND_H_
