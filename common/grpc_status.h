// Lossless conversion between absl::Status and grpc::Status. The 17 canonical codes
// have the same numbers in both; the message travels unchanged. Kept in one file so
// that no adapter invents its own mapping (the Ray lesson in notes/style.md).
//
// Thread safety: pure functions.
#ifndef FABRIC_COMMON_GRPC_STATUS_H_
#define FABRIC_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace fabric {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace fabric

#endif  // FABRIC_COMMON_GRPC_STATUS_H_
