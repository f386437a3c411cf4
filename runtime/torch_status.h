// The one boundary where LibTorch's exceptions (c10::Error and any std::exception)
// become absl::Status. Every call into LibTorch that can throw goes through
// TorchCall(); nothing else in the runtime catches.
//
// Messages read "rank 3: allreduce: <LibTorch's message without its C++ backtrace>", on
// one line. Codes, from LibTorch 2.11's exception types first, then the message:
//   c10::OutOfMemoryError -> ResourceExhausted; c10::NotImplementedError -> Unimplemented;
//   c10::IndexError/ValueError/TypeError -> InvalidArgument;
//   any timeout (store wait, Gloo or NCCL collective) -> DeadlineExceeded;
//   c10::DistNetworkError or a peer that closed/refused its connection -> Unavailable;
//   c10::DistBackendError otherwise (e.g. an aborted process group) -> Aborted;
//   anything else -> Internal.
#ifndef FABRIC_RUNTIME_TORCH_STATUS_H_
#define FABRIC_RUNTIME_TORCH_STATUS_H_

#include <exception>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric::runtime {

absl::Status ExceptionToStatus(const std::exception& e, int rank, absl::string_view op);
absl::Status UnknownExceptionToStatus(int rank, absl::string_view op);

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};

// Runs f(); returns absl::Status for void (or absl::Status) results, StatusOr<T> for
// T or StatusOr<T> results.
template <typename F>
auto TorchCall(int rank, absl::string_view op, F&& f) {
  using R = std::invoke_result_t<F>;
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(f)();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return ExceptionToStatus(e, rank, op);
    } catch (...) {
      return UnknownExceptionToStatus(rank, op);
    }
  } else if constexpr (std::is_same_v<R, absl::Status>) {
    try {
      return std::forward<F>(f)();
    } catch (const std::exception& e) {
      return ExceptionToStatus(e, rank, op);
    } catch (...) {
      return UnknownExceptionToStatus(rank, op);
    }
  } else if constexpr (IsStatusOr<R>::value) {
    try {
      return R(std::forward<F>(f)());
    } catch (const std::exception& e) {
      return R(ExceptionToStatus(e, rank, op));
    } catch (...) {
      return R(UnknownExceptionToStatus(rank, op));
    }
  } else {
    try {
      return absl::StatusOr<R>(std::forward<F>(f)());
    } catch (const std::exception& e) {
      return absl::StatusOr<R>(ExceptionToStatus(e, rank, op));
    } catch (...) {
      return absl::StatusOr<R>(UnknownExceptionToStatus(rank, op));
    }
  }
}

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_TORCH_STATUS_H_
