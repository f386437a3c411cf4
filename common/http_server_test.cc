// HttpServer over real sockets: the server runs on the test's thread (as in the agent's
// loop), each client on its own thread.
#include "common/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Connects, sends `request` (then half-closes when `shut`), returns all it reads.
std::string Exchange(int fd, const std::string& request, bool shut = false) {
  if (!request.empty())
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
  if (shut) shutdown(fd, SHUT_WR);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  return fd;
}

int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  return fd;
}

// A directory for sockets: TEST_TMPDIR is too long for a Unix socket's path (108 bytes).
std::string ShortDir() {
  char templ[] = "/tmp/fabric-http-test-XXXXXX";
  EXPECT_NE(mkdtemp(templ), nullptr);
  return templ;
}

HttpServerOptions Tcp(int port, std::string host = "127.0.0.1") {
  HttpServerOptions o;
  o.tcp_port = port;
  o.tcp_host = std::move(host);
  return o;
}

HttpServerOptions Unix(std::string path) {
  HttpServerOptions o;
  o.unix_path = std::move(path);
  return o;
}

HttpResponse Echo(const HttpRequest& r) {
  HttpResponse out;
  if (r.path == "/big") {
    out.body = std::string(4 << 20, 'x');  // far beyond a socket buffer: written in parts
  } else if (r.path == "/missing") {
    out.code = 404;
    out.body = "no such page\n";
  } else {
    out.body = absl::StrCat(r.method, " ", r.path, " ", r.query, r.unix_socket ? " unix" : "");
  }
  return out;
}

// Runs `client` on a thread while the server serves on this one; returns its result.
std::string Serve(HttpServer& server, std::function<std::string()> client) {
  std::string result;
  std::atomic<bool> done{false};
  std::thread t([&] {
    result = client();
    done = true;
  });
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (!done && absl::Now() < give_up) server.ServeFor(absl::Milliseconds(20));
  t.join();
  return result;
}

TEST(HttpServerTest, ServesGetOverTcpOnAPickedPort) {
  auto server = HttpServer::Create(Tcp(0), Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->tcp_port();
  ASSERT_GT(port, 0);
  std::string out = Serve(**server, [&] {
    return Exchange(ConnectTcp(port), "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  EXPECT_THAT(out, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(out, HasSubstr("Content-Length: 16\r\n"));
  EXPECT_THAT(out, HasSubstr("\r\n\r\nGET /metrics x=1"));
}

TEST(HttpServerTest, UnixSocketIsOwnerOnlyAndRemovedWithTheServer) {
  const std::string dir = ShortDir();
  const std::string path = dir + "/status.sock";
  {
    auto server = HttpServer::Create(Unix(path), Echo);
    ASSERT_TRUE(server.ok()) << server.status();
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ((*server)->tcp_port(), -1);
    std::string out =
        Serve(**server, [&] { return Exchange(ConnectUnix(path), "GET /status HTTP/1.0\n\n"); });
    EXPECT_THAT(out, HasSubstr("\r\n\r\nGET /status  unix"));
  }
  struct stat st;
  EXPECT_NE(lstat(path.c_str(), &st), 0) << "the socket file outlived its server";
  rmdir(dir.c_str());
}

TEST(HttpServerTest, ReplacesAStaleSocketFile) {
  const std::string dir = ShortDir();
  const std::string path = dir + "/stale.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  close(fd);  // the file stays, nobody listens: a dead server's
  auto server = HttpServer::Create(Unix(path), Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT(
      Serve(**server, [&] { return Exchange(ConnectUnix(path), "GET / HTTP/1.0\r\n\r\n"); }),
      HasSubstr("200 OK"));
}

TEST(HttpServerTest, HeadHasNoBodyAndErrorsHaveTheirCodes) {
  auto server = HttpServer::Create(Tcp(0), Echo);
  ASSERT_TRUE(server.ok());
  const int port = (*server)->tcp_port();
  auto ask = [&](const std::string& req, bool shut = false) {
    return Serve(**server, [&] { return Exchange(ConnectTcp(port), req, shut); });
  };
  std::string head = ask("HEAD /x HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 8\r\n"));
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
  EXPECT_THAT(ask("POST /x HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(ask("hello there\r\n\r\n"), StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(ask("GET /missing HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(ask(std::string(HttpServer::kMaxRequest + 10, 'a')), StartsWith("HTTP/1.1 431 "));
  // An incomplete request, then the client hangs up: closed without an answer.
  EXPECT_EQ(ask("GET /x HTTP/1.1\r\n", /*shut=*/true), "");
}

TEST(HttpServerTest, WritesALargeBodyWholeThroughPartialWrites) {
  auto server = HttpServer::Create(Tcp(0), Echo);
  ASSERT_TRUE(server.ok());
  std::string out = Serve(**server, [&] {
    return Exchange(ConnectTcp((*server)->tcp_port()), "GET /big HTTP/1.1\r\n\r\n");
  });
  ASSERT_NE(out.find("\r\n\r\n"), std::string::npos);
  EXPECT_EQ(out.size() - out.find("\r\n\r\n") - 4, size_t{4} << 20);
}

TEST(HttpServerTest, AClientThatSendsNothingDelaysNoOther) {
  auto server = HttpServer::Create(Tcp(0), Echo);
  ASSERT_TRUE(server.ok());
  const int port = (*server)->tcp_port();
  const int silent = ConnectTcp(port);  // connected, never writes
  std::string out =
      Serve(**server, [&] { return Exchange(ConnectTcp(port), "GET /a HTTP/1.1\r\n\r\n"); });
  EXPECT_THAT(out, HasSubstr("GET /a"));
  close(silent);
}

TEST(HttpServerTest, BadPortsAreOneClearError) {
  auto taken = HttpServer::Create(Tcp(0), Echo);
  ASSERT_TRUE(taken.ok());
  auto again = HttpServer::Create(Tcp((*taken)->tcp_port()), Echo);
  ASSERT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("another process has it"));
  auto range = HttpServer::Create(Tcp(70000), Echo);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(range.status().message(), HasSubstr("not in 0..65535"));
  auto host = HttpServer::Create(Tcp(0, "nohost"), Echo);
  EXPECT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  auto path = HttpServer::Create(Unix("/tmp/" + std::string(200, 'p')), Echo);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(path.status().message(), HasSubstr("TMPDIR"));
}

TEST(HttpRequestHeadTest, ParsesAndWaitsForTheBlankLine) {
  auto r = ParseHttpRequestHead("GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->method, "GET");
  EXPECT_EQ((*r)->path, "/a/b");
  EXPECT_EQ((*r)->query, "c=d");
  auto partial = ParseHttpRequestHead("GET /a HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
  EXPECT_FALSE(ParseHttpRequestHead("GET a HTTP/1.1\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpRequestHead("GET /a FTP/1.0\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpRequestHead("\r\n\r\n").ok());
}

}  // namespace
}  // namespace fabric
