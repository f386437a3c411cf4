#include "runtime/spare.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace fabric::runtime {

absl::StatusOr<std::vector<std::string>> ParseAssignment(absl::string_view message) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t nul = message.find('\0', pos);
    if (nul == absl::string_view::npos) {
      return absl::FailedPreconditionError("the assignment is not complete yet");
    }
    if (nul == pos) return out;  // the empty entry ends the message
    absl::string_view kv = message.substr(pos, nul - pos);
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("spare: malformed environment entry '", kv, "' from fabric-run"));
    }
    out.emplace_back(kv);
    pos = nul + 1;
  }
}

absl::Status WaitForAssignment(const std::string& fifo) {
  const int fd = open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("spare: open ", fifo, ": ", std::strerror(errno)));
  }
  std::string message;
  char buf[1 << 14];
  for (;;) {
    absl::StatusOr<std::vector<std::string>> env = ParseAssignment(message);
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
      return absl::UnavailableError(absl::StrCat(
          "spare: ", fifo, " ended before fabric-run assigned a rank (", 
          n < 0 ? std::strerror(errno) : "end of file", ")"));
    }
    message.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace fabric::runtime
