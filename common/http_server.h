// HttpServer: a tiny HTTP/1.0-1.1 server for fabric-run's own endpoints (the agent's status
// socket, Prometheus' /metrics), driven by its owner's event loop: it never blocks and never
// starts a thread. Its listening sockets and connections live in a private epoll set whose
// descriptor (fd()) the owner adds to its own; when that is readable the owner calls
// OnReady(), which accepts, reads and writes what is ready and returns at once.
//
// Each connection carries one request (GET or HEAD; the request line and headers, no body):
// the handler's response is written with Content-Length and "Connection: close", and the
// connection is closed. Bad requests get 400, other methods 405, requests over 8 KiB 431; a
// connection that sends nothing complete within kIdleTimeout is dropped the next time the
// server runs; at most kMaxConnections are open (the oldest is dropped for a new one), so a
// misbehaving client can slow nothing but itself.
//
// Listeners: a Unix socket at a path (created with mode 0600; an existing socket file at the
// path is replaced) and/or TCP on a port (0: the kernel picks one; see tcp_port()).
// Thread safety: single-threaded (the owner's loop).
#ifndef FABRIC_COMMON_HTTP_SERVER_H_
#define FABRIC_COMMON_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace fabric {

struct HttpRequest {
  std::string method;        // "GET" or "HEAD"
  std::string path;          // without the query
  std::string query;         // after '?', undecoded; empty when none
  bool unix_socket = false;  // came through the Unix listener (the owner's user only)
};

struct HttpResponse {
  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Pure: parses a request's head (up to and including the blank line). nullopt when `head`
// is not complete yet; InvalidArgument for a malformed one.
absl::StatusOr<std::optional<HttpRequest>> ParseHttpRequestHead(absl::string_view head);
// Pure: the bytes of `r` (status line, headers, body; no body for HEAD when `head_only`).
std::string EncodeHttpResponse(const HttpResponse& r, bool head_only);

struct HttpServerOptions {
  std::string unix_path;             // empty: no Unix listener
  std::optional<int> tcp_port;       // unset: no TCP listener; 0: any free port
  std::string tcp_host = "0.0.0.0";  // an IPv4 literal
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  static constexpr size_t kMaxRequest = 8192;
  static constexpr size_t kMaxConnections = 64;
  static constexpr absl::Duration kIdleTimeout = absl::Seconds(5);

  // Binds and listens. FailedPrecondition (bad input: the caller prints it and exits 2)
  // for a port in use or not allowed, or a path too long for a Unix socket; Internal for
  // other OS errors.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                            Handler handler);
  ~HttpServer();  // closes everything and removes the Unix socket file

  int fd() const { return epoll_.get(); }
  int tcp_port() const { return tcp_port_; }  // the bound port; -1 without TCP

  // Serves whatever is ready now; never blocks.
  void OnReady();
  // Waits up to `d` for fd() and serves what came; for a thread that owns a server (the
  // rendezvous' listener thread).
  void ServeFor(absl::Duration d);

 private:
  struct Conn {
    UniqueFd fd;
    std::string in;
    std::string out;
    size_t written = 0;
    absl::Time opened;
    bool unix_socket = false;
  };
  HttpServer(Handler handler) : handler_(std::move(handler)) {}
  absl::Status Listen(const HttpServerOptions& options);
  void Accept(int listen_fd, bool unix_socket);
  // Reads, answers, writes; false when the connection is done (to be closed).
  bool Serve(Conn& c, uint32_t events);
  void Close(int fd);
  void DropIdle();

  Handler handler_;
  UniqueFd epoll_;
  UniqueFd unix_listener_;
  UniqueFd tcp_listener_;
  std::string unix_path_;
  int tcp_port_ = -1;
  std::map<int, Conn> conns_;  // by descriptor
};

}  // namespace fabric

#endif  // FABRIC_COMMON_HTTP_SERVER_H_
