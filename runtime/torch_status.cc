#include "runtime/torch_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "c10/util/Exception.h"

namespace fabric::runtime {
namespace {

bool SaysTimeout(const std::string& what) {
  return absl::StrContains(what, "Timed out") || absl::StrContains(what, "timed out") ||
         absl::StrContains(what, "Timeout") || absl::StrContains(what, "timeout");
}

bool SaysPeerGone(const std::string& what) {
  return absl::StrContains(what, "Connection closed by peer") ||
         absl::StrContains(what, "Connection reset") ||
         absl::StrContains(what, "Connection refused") || absl::StrContains(what, "Broken pipe");
}

// The code for a LibTorch exception: its type first (LibTorch 2.x types distributed
// failures), then what its message says about timeouts and lost peers.
absl::StatusCode CodeOf(const std::exception& e, const std::string& what) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) {
    return absl::StatusCode::kResourceExhausted;
  }
  if (dynamic_cast<const c10::NotImplementedError*>(&e) != nullptr) {
    return absl::StatusCode::kUnimplemented;
  }
  if (dynamic_cast<const c10::IndexError*>(&e) != nullptr ||
      dynamic_cast<const c10::ValueError*>(&e) != nullptr ||
      dynamic_cast<const c10::TypeError*>(&e) != nullptr) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (SaysTimeout(what)) return absl::StatusCode::kDeadlineExceeded;
  // A store or transport that lost its peer: the caller may retry (a restart will).
  if (dynamic_cast<const c10::DistNetworkError*>(&e) != nullptr || SaysPeerGone(what)) {
    return absl::StatusCode::kUnavailable;
  }
  // A collective the backend gave up on (e.g. a peer's process group was aborted).
  if (dynamic_cast<const c10::DistBackendError*>(&e) != nullptr) {
    return absl::StatusCode::kAborted;
  }
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::Status ExceptionToStatus(const std::exception& e, int rank, absl::string_view op) {
  const auto* ce = dynamic_cast<const c10::Error*>(&e);
  std::string what = ce != nullptr ? ce->what_without_backtrace() : e.what();
  const absl::StatusCode code = CodeOf(e, what);
  // LibTorch messages can span lines (context, hints); keep ours to one line.
  for (char& c : what) {
    if (c == '\n') c = ' ';
  }
  while (!what.empty() && what.back() == ' ') what.pop_back();
  return absl::Status(code, absl::StrCat("rank ", rank, ": ", op, ": ", what));
}

absl::Status UnknownExceptionToStatus(int rank, absl::string_view op) {
  return absl::InternalError(absl::StrCat("rank ", rank, ": ", op, ": unknown exception"));
}

}  // namespace fabric::runtime
