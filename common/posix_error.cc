#include "common/posix_error.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fabric {
namespace {

absl::StatusCode CodeOf(int e) {
  switch (e) {
    case ENOENT: return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM: return absl::StatusCode::kPermissionDenied;
    case EEXIST: return absl::StatusCode::kAlreadyExists;
    case EAGAIN:
    case EINTR:
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE: return absl::StatusCode::kUnavailable;
    case EINVAL: return absl::StatusCode::kInvalidArgument;
    case ETIMEDOUT: return absl::StatusCode::kDeadlineExceeded;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM: return absl::StatusCode::kResourceExhausted;
    default: return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status PosixError(absl::string_view context, int error_number) {
  char buf[256];
  // GNU strerror_r returns the message (maybe not in buf).
  const char* msg = strerror_r(error_number, buf, sizeof(buf));
  return absl::Status(CodeOf(error_number), absl::StrCat(context, ": ", msg));
}

absl::Status ErrnoError(absl::string_view context) {
  const int e = errno;
  return PosixError(context, e);
}

}  // namespace fabric
