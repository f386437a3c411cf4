#include "common/endpoint.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/net.h"
#include "common/wait_schedule.h"

namespace fabric {
namespace {

std::string FirstLabel(const std::string& name) {
  return absl::AsciiStrToLower(name.substr(0, name.find('.')));
}

bool SameAddress(const sockaddr* a, const sockaddr* b) {
  if (a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(b)->sin_addr.s_addr;
  }
  if (a->sa_family == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(b)->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return false;
}

bool IsLoopback(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->sa_family == AF_INET6) {
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr);
  }
  return false;
}

}  // namespace

bool SplitHostPort(const std::string& endpoint, std::string* host, std::string* port) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  *host = endpoint.substr(0, colon);
  *port = endpoint.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !host->empty() && !port->empty();
}

bool IsWildcard(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

bool IsThisHost(const std::string& host) {
  if (host.empty()) return false;
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string me = LocalHostname();
  if (absl::EqualsIgnoreCase(host, me) || FirstLabel(host) == FirstLabel(me)) return true;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return false;
  ifaddrs* ifs = nullptr;
  const bool have_ifs = getifaddrs(&ifs) == 0;
  bool local = false;
  for (addrinfo* ai = res; ai != nullptr && !local; ai = ai->ai_next) {
    if (IsLoopback(ai->ai_addr)) local = true;
    for (ifaddrs* i = have_ifs ? ifs : nullptr; i != nullptr && !local; i = i->ifa_next) {
      if (i->ifa_addr != nullptr && SameAddress(i->ifa_addr, ai->ai_addr)) local = true;
    }
  }
  if (have_ifs) freeifaddrs(ifs);
  freeaddrinfo(res);
  return local;
}

bool IsLoopbackHost(const std::string& host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  if (host.empty() || IsWildcard(host)) return false;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return false;
  bool all = true;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) all &= IsLoopback(ai->ai_addr);
  freeaddrinfo(res);
  return all;
}

bool Resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const bool ok = getaddrinfo(host.c_str(), nullptr, &hints, &res) == 0 && res != nullptr;
  if (res != nullptr) freeaddrinfo(res);
  return ok;
}

std::string LocalAddressToward(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return LocalHostname();
  }
  std::string out;
  for (addrinfo* ai = res; ai != nullptr && out.empty(); ai = ai->ai_next) {
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char buf[INET6_ADDRSTRLEN] = {};
      const void* a =
          local.ss_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (inet_ntop(local.ss_family, a, buf, sizeof(buf)) != nullptr) out = buf;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return out.empty() ? LocalHostname() : out;
}

bool WaitForListener(const std::string& host, const std::string& port, absl::Time deadline,
                     const WaitProgress& progress) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  absl::Duration backoff = absl::Milliseconds(5);
  const absl::Time start = absl::Now();
  WaitSchedule reports(start);
  for (;;) {
    addrinfo* res = nullptr;
    std::string why;
    const int gai = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (gai == 0) {
      int err = 0;
      for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        bool ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
        err = ok ? 0 : errno;
        if (!ok && errno == EINPROGRESS) {
          pollfd p{fd, POLLOUT, 0};
          socklen_t len = sizeof(err);
          const int ready = poll(&p, 1, 1000);
          if (ready != 1) err = ETIMEDOUT;
          ok = ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
        }
        close(fd);
        if (ok) {
          freeaddrinfo(res);
          return true;
        }
      }
      freeaddrinfo(res);
      why = err != 0 ? std::strerror(err) : "no usable address";
    } else {
      why = absl::StrCat(host, " does not resolve (", gai_strerror(gai), ")");
    }
    const absl::Time now = absl::Now();
    if (progress && reports.Due(now)) progress(why, now - start);
    if (now + backoff >= deadline) return false;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(200));
  }
}

}  // namespace fabric
