#include "runtime/spare.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/worker_control.h"

namespace fabric::runtime {

absl::Status WaitForAssignment(const std::string& fifo) {
  const int fd = open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("spare: open ", fifo, ": ", std::strerror(errno)));
  }
  std::string message;
  char buf[1 << 14];
  for (;;) {
    absl::StatusOr<std::vector<std::string>> env = DecodeSpareAssignment(message);
    if (env.ok()) {
      close(fd);
      clearenv();
      for (const std::string& kv : *env) {
        const size_t eq = kv.find('=');
        setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
      }
      return absl::OkStatus();
    }
    if (!absl::IsFailedPrecondition(env.status())) {
      close(fd);
      return env.status();
    }
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return absl::UnavailableError(
          absl::StrCat("spare: ", fifo, " ended before fabric-run assigned a rank (",
                       n < 0 ? std::strerror(errno) : "end of file", ")"));
    }
    message.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace fabric::runtime
