#include "common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/posix_error.h"
#include "common/status_macros.h"

namespace fabric {
namespace {

const char* Reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
  }
  return "Unknown";
}

HttpResponse Error(int code, absl::string_view why) {
  HttpResponse r;
  r.code = code;
  r.body = absl::StrCat(why, "\n");
  return r;
}

// The epoll tags of the two listeners; a connection's tag is its descriptor.
constexpr uint64_t kUnixListenerTag = ~uint64_t{0};
constexpr uint64_t kTcpListenerTag = ~uint64_t{0} - 1;

absl::Status Add(int epoll, int fd, uint64_t tag, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev) != 0) return ErrnoError("epoll_ctl");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<HttpRequest>> ParseHttpRequestHead(absl::string_view head) {
  size_t end = head.find("\r\n\r\n");
  if (size_t lf = head.find("\n\n"); lf < end) end = lf;  // bare LFs, as some tools send
  if (end == absl::string_view::npos) return std::optional<HttpRequest>();
  absl::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[1][0] != '/' ||
      !absl::StartsWith(parts[2], "HTTP/1.")) {
    return absl::InvalidArgumentError(absl::StrCat("not an HTTP request line: ", line));
  }
  HttpRequest r;
  r.method = std::string(parts[0]);
  const size_t q = parts[1].find('?');
  r.path = std::string(parts[1].substr(0, q));
  if (q != absl::string_view::npos) r.query = std::string(parts[1].substr(q + 1));
  return std::optional<HttpRequest>(std::move(r));
}

std::string EncodeHttpResponse(const HttpResponse& r, bool head_only) {
  std::string out =
      absl::StrCat("HTTP/1.1 ", r.code, " ", Reason(r.code), "\r\nContent-Type: ", r.content_type,
                   "\r\nContent-Length: ", r.body.size(), "\r\nConnection: close\r\n\r\n");
  if (!head_only) out += r.body;
  return out;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options,
                                                               Handler handler) {
  std::unique_ptr<HttpServer> s(new HttpServer(std::move(handler)));
  FABRIC_RETURN_IF_ERROR(s->Listen(options));
  return s;
}

absl::Status HttpServer::Listen(const HttpServerOptions& options) {
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return ErrnoError("epoll_create1");
  if (!options.unix_path.empty()) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (options.unix_path.size() >= sizeof(addr.sun_path)) {
      return absl::FailedPreconditionError(
          absl::StrCat("socket path ", options.unix_path, " is longer than ",
                       sizeof(addr.sun_path) - 1, " bytes; use a shorter TMPDIR"));
    }
    std::memcpy(addr.sun_path, options.unix_path.data(), options.unix_path.size());
    unix_listener_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!unix_listener_) return ErrnoError("socket(AF_UNIX)");
    struct stat st;
    if (lstat(options.unix_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      unlink(options.unix_path.c_str());  // a stale socket of an earlier server
    }
    const mode_t old = umask(0177);  // the socket is born 0600
    const int rc = bind(unix_listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    umask(old);
    if (rc != 0) return ErrnoError(absl::StrCat("bind ", options.unix_path));
    unix_path_ = options.unix_path;
    if (listen(unix_listener_.get(), 64) != 0) return ErrnoError("listen");
    FABRIC_RETURN_IF_ERROR(Add(epoll_.get(), unix_listener_.get(), kUnixListenerTag, EPOLLIN));
  }
  if (options.tcp_port.has_value()) {
    const int port = *options.tcp_port;
    if (port < 0 || port > 65535) {
      return absl::FailedPreconditionError(
          absl::StrCat("port ", port, " is not in 0..65535 (0 picks a free one)"));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, options.tcp_host.c_str(), &addr.sin_addr) != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("'", options.tcp_host, "' is not an IPv4 address"));
    }
    tcp_listener_.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!tcp_listener_) return ErrnoError("socket(AF_INET)");
    const int one = 1;
    setsockopt(tcp_listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(tcp_listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      const int e = errno;
      if (e == EADDRINUSE || e == EACCES) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot listen on port ", port, ": ", std::strerror(e),
            e == EADDRINUSE ? " (another process has it; pick another port, or 0 for any free one)"
                            : " (ports below 1024 need root; pick one above)"));
      }
      return PosixError(absl::StrCat("bind port ", port), e);
    }
    if (listen(tcp_listener_.get(), 64) != 0) return ErrnoError("listen");
    socklen_t len = sizeof(addr);
    if (getsockname(tcp_listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return ErrnoError("getsockname");
    }
    tcp_port_ = ntohs(addr.sin_port);
    FABRIC_RETURN_IF_ERROR(Add(epoll_.get(), tcp_listener_.get(), kTcpListenerTag, EPOLLIN));
  }
  return absl::OkStatus();
}

HttpServer::~HttpServer() {
  conns_.clear();
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

void HttpServer::Accept(int listen_fd, bool unix_socket) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: nothing more; other errors: the client's problem
    UniqueFd owned(fd);
    if (conns_.size() >= kMaxConnections) {
      auto oldest = conns_.begin();
      for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        if (it->second.opened < oldest->second.opened) oldest = it;
      }
      Close(oldest->first);
    }
    if (!Add(epoll_.get(), fd, static_cast<uint64_t>(fd), EPOLLIN | EPOLLRDHUP).ok()) continue;
    Conn c;
    c.fd = std::move(owned);
    c.opened = absl::Now();
    c.unix_socket = unix_socket;
    conns_.emplace(fd, std::move(c));
  }
}

bool HttpServer::Serve(Conn& c, uint32_t events) {
  if (c.out.empty()) {
    char buf[4096];
    for (size_t taken = 0; taken < 8 * kMaxRequest;) {  // bounded: a flood cannot hold the loop
      const ssize_t n = read(c.fd.get(), buf, sizeof(buf));
      if (n > 0) {
        taken += static_cast<size_t>(
            n);  // past the limit: read on but keep nothing (closing with unread
                 // bytes would reset the connection before the client reads the 431)
        if (c.in.size() <= kMaxRequest) c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) break;  // the client closed (or half-closed) its side
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return false;
    }
    HttpResponse r;
    bool head_only = false;
    if (c.in.size() > kMaxRequest) {
      r = Error(431, "request too large");
    } else {
      absl::StatusOr<std::optional<HttpRequest>> req = ParseHttpRequestHead(c.in);
      if (!req.ok()) {
        r = Error(400, req.status().message());
      } else if (!req->has_value()) {
        return (events & (EPOLLRDHUP | EPOLLHUP)) == 0;  // more to come, unless it hung up
      } else if ((*req)->method != "GET" && (*req)->method != "HEAD") {
        r = Error(405, "only GET and HEAD");
      } else {
        head_only = (*req)->method == "HEAD";
        (*req)->unix_socket = c.unix_socket;
        r = handler_(**req);
      }
    }
    c.out = EncodeHttpResponse(r, head_only);
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = static_cast<uint64_t>(c.fd.get());
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  }
  while (c.written < c.out.size()) {
    const ssize_t n =
        send(c.fd.get(), c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;  // wait for EPOLLOUT; other errors: done
  }
  return false;  // all written: close
}

void HttpServer::Close(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);
}

void HttpServer::DropIdle() {
  const absl::Time now = absl::Now();
  std::vector<int> idle;
  for (const auto& [fd, c] : conns_) {
    if (now - c.opened > kIdleTimeout) idle.push_back(fd);
  }
  for (int fd : idle) Close(fd);
}

void HttpServer::OnReady() {
  epoll_event events[32];
  const int n = epoll_wait(epoll_.get(), events, 32, 0);
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[i].data.u64;
    if (tag == kUnixListenerTag) {
      Accept(unix_listener_.get(), /*unix_socket=*/true);
    } else if (tag == kTcpListenerTag) {
      Accept(tcp_listener_.get(), /*unix_socket=*/false);
    } else {
      auto it = conns_.find(static_cast<int>(tag));
      if (it != conns_.end() && !Serve(it->second, events[i].events)) Close(it->first);
    }
  }
  DropIdle();
}

void HttpServer::ServeFor(absl::Duration d) {
  pollfd p{epoll_.get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(d))) > 0) OnReady();
}

}  // namespace fabric
