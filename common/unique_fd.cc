#include "common/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace fabric {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) close(fd_);
  fd_ = fd;
}

absl::StatusOr<Pipe> MakePipe(bool nonblocking_read) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoError("pipe2");
  Pipe pipe{UniqueFd(p[0]), UniqueFd(p[1])};
  if (nonblocking_read && fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK) != 0) {
    return ErrnoError("fcntl O_NONBLOCK");
  }
  return pipe;
}

absl::StatusOr<UniqueFd> MakeFifo(const std::string& path, const std::string& what) {
  unlink(path.c_str());
  if (mkfifo(path.c_str(), 0600) != 0) return ErrnoError(absl::StrCat(what, " ", path));
  UniqueFd fd(open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat(what, " ", path));
  return fd;
}

}  // namespace fabric
