// torchelastic's error file (TORCHELASTIC_ERROR_FILE): what a failed worker wrote about
// why, in the format of torch.distributed.elastic.multiprocessing.errors (torch 2.11,
// ErrorHandler.record_exception):
//   {"message": {"message": "ValueError: bad batch",
//                "extraInfo": {"py_callstack": "Traceback ...", "timestamp": "1700000000"}}}
// and the older flat form that torch's reader also accepts:
//   {"message": "ValueError: bad batch", "timestamp": 1700000000}
// JSON through nlohmann-json, never by hand. Pure; never throws.
#ifndef FABRIC_LAUNCHER_ERROR_FILE_H_
#define FABRIC_LAUNCHER_ERROR_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric::launcher {

struct ErrorFile {
  std::string message;       // e.g. "ValueError: bad batch"
  std::string py_callstack;  // the traceback; empty when there is none
  int64_t timestamp = 0;     // unix seconds; 0 when the file has none
};

// The nested form above, ASCII only (non-ASCII as \u escapes, as Python's json.dump
// writes it; invalid UTF-8 bytes become U+FFFD), no trailing newline. torch's
// ProcessFailure and ErrorHandler.dump_error_file read it.
std::string EncodeErrorFile(const ErrorFile& error);

// Either form. InvalidArgument when `json` is not JSON, not an object, or has no string
// message (top level, or message.message); extraInfo, py_callstack and timestamp are
// optional (a timestamp is a number or a string of digits, as torch writes it).
absl::StatusOr<ErrorFile> ParseErrorFile(absl::string_view json);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_ERROR_FILE_H_
