#include "runtime/nccl_comm.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace fabric::runtime {
namespace {

absl::Status NcclError(int rank, const char* op, ncclResult_t r) {
  if (r == ncclSuccess) return absl::OkStatus();
  std::string msg = absl::StrCat("rank ", rank, ": nccl ", op, ": ", ncclGetErrorString(r));
  const char* last = ncclGetLastError(nullptr);
  if (last != nullptr && *last != '\0') absl::StrAppend(&msg, " (", last, ")");
  if (r == ncclInvalidArgument || r == ncclInvalidUsage) return absl::InvalidArgumentError(msg);
  if (r == ncclRemoteError || r == ncclSystemError) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

absl::Status CudaError(int rank, const char* op, cudaError_t e) {
  if (e == cudaSuccess) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("rank ", rank, ": cuda ", op, ": ", cudaGetErrorString(e)));
}

}  // namespace

int CudaDeviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return n;
}

std::string NcclVersionString() {
  int v = 0;
  ncclGetVersion(&v);
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return absl::StrCat(v / 10000, ".", (v / 100) % 100, ".", v % 100);
}

absl::StatusOr<std::string> NewNcclUniqueId() {
  ncclUniqueId id;
  FABRIC_RETURN_IF_ERROR(NcclError(0, "get unique id", ncclGetUniqueId(&id)));
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

absl::StatusOr<std::string> ExchangeNcclUniqueId(const KeyValueStore& store,
                                                 const std::string& key, int rank,
                                                 absl::Duration timeout) {
  std::string id;
  if (rank == 0) {
    FABRIC_ASSIGN_OR_RETURN(id, NewNcclUniqueId());
    FABRIC_RETURN_IF_ERROR(store.set(key, id));
  } else {
    FABRIC_ASSIGN_OR_RETURN(id, store.get(key, timeout));
  }
  if (id.size() != NCCL_UNIQUE_ID_BYTES) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, ": nccl unique id under '", key,
                                                   "' has ", id.size(), " bytes, expected ",
                                                   NCCL_UNIQUE_ID_BYTES));
  }
  return id;
}

absl::StatusOr<std::unique_ptr<NcclComm>> NcclComm::Create(const KeyValueStore& store, int rank,
                                                          int world_size, int device,
                                                          absl::Duration timeout) {
  const int devices = CudaDeviceCount();
  if (devices == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", rank, ": nccl: no CUDA device is visible"));
  }
  if (device < 0 || device >= devices) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, ": nccl: device ", device,
                                                   " is not one of the ", devices, " visible"));
  }
  FABRIC_RETURN_IF_ERROR(CudaError(rank, "set device", cudaSetDevice(device)));
  FABRIC_ASSIGN_OR_RETURN(std::string id_bytes,
                          ExchangeNcclUniqueId(store, "nccl/unique_id", rank, timeout));
  ncclUniqueId id;
  std::copy(id_bytes.begin(), id_bytes.end(), id.internal);
  ncclComm_t comm = nullptr;
  FABRIC_RETURN_IF_ERROR(
      NcclError(rank, "comm init", ncclCommInitRank(&comm, world_size, id, rank)));
  return std::unique_ptr<NcclComm>(new NcclComm(comm, rank, world_size));
}

NcclComm::~NcclComm() {
  if (comm_ != nullptr) ncclCommDestroy(comm_);
}

absl::Status NcclComm::AllReduce(void* buf, size_t count, ncclDataType_t type, ncclRedOp_t op,
                                 cudaStream_t stream) {
  return NcclError(rank_, "allreduce", ncclAllReduce(buf, buf, count, type, op, comm_, stream));
}

absl::Status NcclComm::Broadcast(void* buf, size_t count, ncclDataType_t type, int root,
                                 cudaStream_t stream) {
  return NcclError(rank_, "broadcast", ncclBroadcast(buf, buf, count, type, root, comm_, stream));
}

absl::Status NcclComm::AllGather(const void* send, void* recv, size_t count, ncclDataType_t type,
                                 cudaStream_t stream) {
  return NcclError(rank_, "allgather", ncclAllGather(send, recv, count, type, comm_, stream));
}

absl::Status NcclComm::ReduceScatter(const void* send, void* recv, size_t recv_count,
                                     ncclDataType_t type, ncclRedOp_t op, cudaStream_t stream) {
  return NcclError(rank_, "reduce_scatter",
                   ncclReduceScatter(send, recv, recv_count, type, op, comm_, stream));
}

}  // namespace fabric::runtime
