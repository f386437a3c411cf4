#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fabric {
namespace {

// Binds a TCP socket of `family` to the wildcard address and `port`; returns the
// bound port, 0 when the family is unsupported, or -errno on a bind failure.
int TryBind(int family, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return (errno == EAFNOSUPPORT) ? 0 : -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(static_cast<uint16_t>(port));
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  if (rc != 0) {
    int err = errno;
    close(fd);
    if (family == AF_INET6 && (err == EADDRNOTAVAIL || err == EAFNOSUPPORT)) return 0;
    return -err;
  }
  // listen() so that a concurrent PickFreePort in another process cannot get it too.
  listen(fd, 1);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  close(fd);
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

absl::Status CheckPortFree(int port) {
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, " is not in 1-65535"));
  }
  for (int family : {AF_INET, AF_INET6}) {
    int r = TryBind(family, port);
    if (r == -EADDRINUSE) {
      return absl::FailedPreconditionError(
          absl::StrCat("port ", port, " is already in use on this host"));
    }
    if (r < 0) {
      return absl::UnavailableError(absl::StrCat("bind port ", port, ": ", std::strerror(-r)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PickFreePort() {
  for (int attempt = 0; attempt < 64; ++attempt) {
    int port = TryBind(AF_INET, 0);
    if (port < 0) {
      return absl::UnavailableError(absl::StrCat("bind port 0: ", std::strerror(-port)));
    }
    if (CheckPortFree(port).ok()) return port;
  }
  return absl::UnavailableError("no free TCP port found after 64 attempts");
}

std::string LocalHostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace fabric
