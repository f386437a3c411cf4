// UniqueFd: the owner of one file descriptor. Move-only; closes it when destroyed or
// reset. Every descriptor the launcher and the runtime open is held by one.
// MakePipe() and MakeFifo() are the pipe and FIFO set-ups the agent needs.
//
// Thread safety: a UniqueFd is a value; one thread at a time.
#ifndef FABRIC_COMMON_UNIQUE_FD_H_
#define FABRIC_COMMON_UNIQUE_FD_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace fabric {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives up ownership: the caller closes the descriptor.
  int release() { return std::exchange(fd_, -1); }
  // Closes the descriptor held (if any) and holds `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// pipe2(O_CLOEXEC); the read end also O_NONBLOCK when `nonblocking_read`.
absl::StatusOr<Pipe> MakePipe(bool nonblocking_read);

// Creates the FIFO `path` (mode 0600, replacing a stale file of that name) and opens it
// O_RDWR | O_NONBLOCK | O_CLOEXEC: the holder's end keeps the FIFO open, so its reader
// never sees EOF while the holder lives. Errors name `what` and the path.
absl::StatusOr<UniqueFd> MakeFifo(const std::string& path, const std::string& what);

}  // namespace fabric

#endif  // FABRIC_COMMON_UNIQUE_FD_H_
