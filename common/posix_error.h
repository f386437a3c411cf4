// The one place that turns errno into an absl::Status, with leveldb's two-part message:
// "<context>: <strerror(errno)>", e.g. "pipe2: Too many open files".
//
// Thread safety: thread-safe (errno is per thread; strerror_r is used).
#ifndef FABRIC_COMMON_POSIX_ERROR_H_
#define FABRIC_COMMON_POSIX_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fabric {

// `context` and the message of `error_number`. The code follows the errno: ENOENT ->
// NotFound, EACCES/EPERM -> PermissionDenied, EEXIST -> AlreadyExists, EAGAIN/EINTR/
// ECONNREFUSED/ECONNRESET/EPIPE -> Unavailable, EINVAL -> InvalidArgument, ETIMEDOUT ->
// DeadlineExceeded, ENOSPC/EMFILE/ENFILE/ENOMEM -> ResourceExhausted, otherwise Internal.
absl::Status PosixError(absl::string_view context, int error_number);

// PosixError(context, errno) for the errno of the call that just failed.
absl::Status ErrnoError(absl::string_view context);

}  // namespace fabric

#endif  // FABRIC_COMMON_POSIX_ERROR_H_
