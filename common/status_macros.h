// Status propagation macros (Debian's abseil 20220623 has no ABSL_RETURN_IF_ERROR).
//
//   FABRIC_RETURN_IF_ERROR(DoThing());
//   FABRIC_ASSIGN_OR_RETURN(auto value, ComputeThing());
#ifndef FABRIC_COMMON_STATUS_MACROS_H_
#define FABRIC_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FABRIC_STATUS_CONCAT_INNER_(a, b) a##b
#define FABRIC_STATUS_CONCAT_(a, b) FABRIC_STATUS_CONCAT_INNER_(a, b)

namespace fabric::status_internal {
inline const ::absl::Status& AsStatus(const ::absl::Status& s) { return s; }
template <typename T>
const ::absl::Status& AsStatus(const ::absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace fabric::status_internal

// Evaluates `expr` (an absl::Status, or a StatusOr whose value is not needed); returns
// its status from the enclosing function if not OK.
#define FABRIC_RETURN_IF_ERROR(expr)                                             \
  do {                                                                           \
    ::absl::Status fabric_status_ = ::fabric::status_internal::AsStatus((expr)); \
    if (!fabric_status_.ok()) return fabric_status_;                             \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, otherwise
// moves the value into `lhs` (which may be a declaration such as `auto x`).
#define FABRIC_ASSIGN_OR_RETURN(lhs, rexpr) \
  FABRIC_ASSIGN_OR_RETURN_IMPL_(FABRIC_STATUS_CONCAT_(fabric_statusor_, __LINE__), lhs, rexpr)

#define FABRIC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(statusor).value()

#endif  // FABRIC_COMMON_STATUS_MACROS_H_
