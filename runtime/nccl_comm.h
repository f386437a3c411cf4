// A thin NCCL communicator for CUDA builds: rank 0 creates the ncclUniqueId, the id
// travels to every rank through a key-value store (in the runtime: the same c10d
// TCPStore Gloo uses), then every rank calls ncclCommInitRank. Collectives take raw
// device pointers and a CUDA stream, so this file needs CUDA + NCCL headers but not a
// CUDA build of LibTorch.
//
// Thread safety: one thread per communicator; collectives in the same order on every
// rank. Ownership: the communicator owns its ncclComm_t and destroys it.
#ifndef FABRIC_RUNTIME_NCCL_COMM_H_
#define FABRIC_RUNTIME_NCCL_COMM_H_

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fabric::runtime {

// What NCCL bootstrapping needs from a store: set a key, and get one (waiting up to a
// deadline for it to appear).
struct KeyValueStore {
  std::function<absl::Status(const std::string& key, const std::string& value)> set;
  std::function<absl::StatusOr<std::string>(const std::string& key, absl::Duration timeout)> get;
};

// Devices visible to the CUDA runtime; 0 when there is none or no driver.
int CudaDeviceCount();
// The linked NCCL library's version as "2.28.3".
std::string NcclVersionString();
// A fresh ncclUniqueId as NCCL_UNIQUE_ID_BYTES bytes (works without a GPU).
absl::StatusOr<std::string> NewNcclUniqueId();

// Rank 0 publishes a new unique id under `key`; every other rank waits for it.
// Returns the id bytes. InvalidArgument for a malformed id.
absl::StatusOr<std::string> ExchangeNcclUniqueId(const KeyValueStore& store,
                                                 const std::string& key, int rank,
                                                 absl::Duration timeout);

class NcclComm {
 public:
  // Selects `device`, exchanges the id through `store` and initialises the
  // communicator. FailedPrecondition when no CUDA device exists.
  static absl::StatusOr<std::unique_ptr<NcclComm>> Create(const KeyValueStore& store, int rank,
                                                          int world_size, int device,
                                                          absl::Duration timeout);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // In place; `buf` is device memory of `count` elements.
  absl::Status AllReduce(void* buf, size_t count, ncclDataType_t type, ncclRedOp_t op,
                         cudaStream_t stream);
  absl::Status Broadcast(void* buf, size_t count, ncclDataType_t type, int root,
                         cudaStream_t stream);
  // recv holds world_size * count elements.
  absl::Status AllGather(const void* send, void* recv, size_t count, ncclDataType_t type,
                         cudaStream_t stream);
  // send holds world_size * recv_count elements.
  absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count,
                             ncclDataType_t type, ncclRedOp_t op, cudaStream_t stream);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

 private:
  NcclComm(ncclComm_t comm, int rank, int world_size)
      : comm_(comm), rank_(rank), world_size_(world_size) {}

  ncclComm_t comm_;
  int rank_;
  int world_size_;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_NCCL_COMM_H_
