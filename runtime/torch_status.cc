#include "runtime/torch_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "c10/util/Exception.h"

namespace fabric::runtime {

absl::Status ExceptionToStatus(const std::exception& e, int rank, absl::string_view op) {
  std::string what;
  absl::StatusCode code = absl::StatusCode::kInternal;
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) {
    what = ce->what_without_backtrace();
    if (dynamic_cast<const c10::IndexError*>(&e) != nullptr ||
        dynamic_cast<const c10::ValueError*>(&e) != nullptr ||
        dynamic_cast<const c10::TypeError*>(&e) != nullptr) {
      code = absl::StatusCode::kInvalidArgument;
    }
  } else {
    what = e.what();
  }
  if (absl::StrContains(what, "Timed out") || absl::StrContains(what, "timed out") ||
      absl::StrContains(what, "Timeout") || absl::StrContains(what, "timeout")) {
    code = absl::StatusCode::kDeadlineExceeded;
  } else if (absl::StrContains(what, "Connection closed by peer") ||
             absl::StrContains(what, "Connection reset") ||
             absl::StrContains(what, "Connection refused")) {
    code = absl::StatusCode::kUnavailable;
  }
  // LibTorch messages can end with a newline; keep ours to one line.
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  return absl::Status(code, absl::StrCat("rank ", rank, ": ", op, ": ", what));
}

absl::Status UnknownExceptionToStatus(int rank, absl::string_view op) {
  return absl::InternalError(absl::StrCat("rank ", rank, ": ", op, ": unknown exception"));
}

}  // namespace fabric::runtime
