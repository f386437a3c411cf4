// Collective communication between the ranks of one job, over a c10d ProcessGroup:
// ProcessGroupGloo for CPU tensors, and for CUDA tensors ProcessGroupNCCL (backend
// "nccl") or Gloo again (backend "gloo": several ranks may then share one GPU). Rank 0
// hosts a c10d TCPStore at MASTER_ADDR:MASTER_PORT; every rank connects to it and the
// backends bootstrap through it under the prefix "fabric/round/<round>/" (the same as
// PyTorch's env:// initialisation, so it interoperates with torchrun's environment).
//
// Thread safety: a Communicator is used by one thread at a time; collectives must be
// issued in the same order on every rank (as with any c10d process group).
#ifndef FABRIC_RUNTIME_COMMUNICATOR_H_
#define FABRIC_RUNTIME_COMMUNICATOR_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "c10/util/intrusive_ptr.h"
#include "torch/csrc/distributed/c10d/Store.hpp"

namespace c10d {
class ProcessGroup;
class Store;
}  // namespace c10d

namespace fabric::runtime {

enum class ReduceOp { kSum, kMean, kMax, kMin };

struct CommunicatorOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  // How long to wait for every rank to reach the store and for each collective (over
  // NCCL: the watchdog's timeout, after which it ends the process; nccl_backend.h).
  absl::Duration timeout = absl::Minutes(5);
  // GLOO_SOCKET_IFNAME: the interface Gloo binds; empty picks by master_addr.
  std::string gloo_interface;
  // CUDA tensors: "nccl" (one rank per GPU) or "gloo"; cuda_device: this rank's GPU,
  // -1 for a CPU-only job (then CUDA tensors are not expected).
  std::string cuda_backend = "nccl";
  int cuda_device = -1;
  // The rendezvous round / restart count: every store key is under "fabric/round/<round>/".
  int64_t round = 0;
  // Create the store and process group for world_size 1 too (a check of the backends;
  // normally one rank talks to nobody and every collective is local).
  bool group_for_one_rank = false;
  // In-place recovery: the n-th re-formation of the group within the round (0: the
  // first formation). n > 0 puts the group's keys under "fabric/round/<round>/recovery/<n>".
  int recovery = 0;
  // The store to form the group over (ConnectStore's, or an earlier Communicator's
  // base_store(): rank 0 keeps serving it while groups come and go); null: Create
  // connects (rank 0 hosts) one.
  c10::intrusive_ptr<c10d::Store> base_store;
};

class Communicator {
 public:
  // Connects to (rank 0: hosts) the store and creates the process group. With
  // world_size 1 no store or group is created (unless group_for_one_rank) and every
  // collective is local.
  // Returns DeadlineExceeded when the other ranks do not arrive within the timeout,
  // Unavailable when the store cannot be reached, InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(const CommunicatorOptions& options);
  // The job's TCPStore at master_addr:master_port, without any prefix: rank 0 hosts it
  // unless `client_only` (a replacement joining a running job).
  static absl::StatusOr<c10::intrusive_ptr<c10d::Store>> ConnectStore(
      const CommunicatorOptions& options, bool client_only);

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  // In place on every tensor (kMean: sum divided by world_size).
  absl::Status AllReduce(std::vector<at::Tensor>& tensors, ReduceOp op);
  absl::Status AllReduce(at::Tensor& tensor, ReduceOp op);
  // Returns world_size tensors, entry r from rank r. REQUIRES: same shape on all ranks.
  absl::StatusOr<std::vector<at::Tensor>> AllGather(const at::Tensor& tensor);
  // Into `tensor` on every rank from `root`.
  absl::Status Broadcast(at::Tensor& tensor, int root);
  // Returns once every rank arrived, or DeadlineExceeded/Aborted after `timeout` (a
  // bounded wait on every backend, NCCL included).
  absl::Status Barrier();
  // Sum-reduce-scatter of a 1-D `input` of world_size * n elements: returns the sum
  // over ranks of elements [rank*n, (rank+1)*n) (c10d's _reduce_scatter_base).
  absl::StatusOr<at::Tensor> ReduceScatter(const at::Tensor& input);

  // A collective that was started and runs in the background (c10d's Work): Wait()
  // finishes it; its output tensor is valid only after that. Destroying an unfinished
  // one waits for it.
  class Pending {
   public:
    ~Pending();
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    // Returns the collective's error (DeadlineExceeded after the timeout, ...).
    absl::Status Wait();

   private:
    friend class Communicator;
    struct Impl;
    Pending(int rank, const char* op, std::unique_ptr<Impl> impl);
    int rank_;
    const char* op_;
    std::unique_ptr<Impl> impl_;
  };
  // Starts output[0:n] = the sum over ranks of input[rank*n, (rank+1)*n), for a 1-D
  // contiguous `input` of world_size * n elements and a 1-D `output` of n, same dtype and
  // device. `input` may be overwritten (over Gloo it is all-reduced in place).
  absl::StatusOr<std::unique_ptr<Pending>> StartReduceScatter(const at::Tensor& input,
                                                              at::Tensor output);
  // Starts `output` (world_size * n elements) = every rank's 1-D `input` (n), in rank order.
  absl::StatusOr<std::unique_ptr<Pending>> StartAllGather(const at::Tensor& input,
                                                          at::Tensor output);

  // The round's store (null without a process group), for bootstrapping other libraries.
  c10d::Store* store() const;
  // The unprefixed store the group was formed over (null without a process group).
  c10::intrusive_ptr<c10d::Store> base_store() const;
  // The c10d process group (null without one), for c10d components that take one
  // (the DDP Reducer).
  c10::intrusive_ptr<c10d::ProcessGroup> group() const;
  // Collectives this rank has issued on the default backend so far (c10d's own
  // sequence number; 0 without a process group): what tests count.
  uint64_t SequenceNumber() const;
  // The c10d backend that serves tensors of `device_type` ("gloo", "nccl"), or "local"
  // without a process group.
  std::string BackendName(c10::DeviceType device_type) const;

 private:
  struct Impl;  // c10d's intrusive pointers, kept out of this header
  explicit Communicator(const CommunicatorOptions& options);

  absl::Status Wait(const char* op, void* work);

  CommunicatorOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_COMMUNICATOR_H_
