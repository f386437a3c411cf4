// Crash-safe whole-file writes: the data goes to a temporary file in the same
// directory, is fsync'ed, renamed over the destination, and the directory is fsync'ed.
// A crash at any point leaves either the old file or the new one, never a mix; a
// leftover temporary (".<name>.tmp-<pid>") is ignored by readers and replaced by the
// next write.
//
// Thread safety: functions are thread-safe for distinct paths.
#ifndef FABRIC_RUNTIME_ATOMIC_FILE_H_
#define FABRIC_RUNTIME_ATOMIC_FILE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric::runtime {

struct AtomicWriteOptions {
  // Bytes per write(2) call.
  int64_t chunk_bytes = 1 << 20;
  // Fault hook for tests: called after each chunk reaches the temporary file with the
  // bytes written so far. Returning an error abandons the write at that point exactly
  // as a crash would (the temporary file stays, the destination is untouched); the
  // hook may also kill the process.
  std::function<absl::Status(int64_t bytes_written)> after_chunk;
};

// Creates the parent directory if needed. Returns Internal/PermissionDenied... with
// the path and errno text on I/O failure; the destination is then unchanged.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data,
                                 const AtomicWriteOptions& options = {});

// Reads a whole file. NotFound when it does not exist.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// mkdir -p. Returns an error naming the directory.
absl::Status MakeDirs(const std::string& dir);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_ATOMIC_FILE_H_
