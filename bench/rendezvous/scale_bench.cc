// Scale: one load generator drives N simulated agents against one rendezvous server
// (a separate fabric-rendezvous process) over C connections, with gRPC's callback API
// (no thread per agent). Each simulated agent does what RendezvousClient does:
// optionally opens its session stream first (hello -> SESSION_OPENED; the stream stays
// open until the end, as an agent's does), then sends its Join (with a deadline, as the
// client does) and waits for the assignment.
//
//   scale_bench HOST:PORT AGENTS [CONNECTIONS] [--sessions] [--server-pid PID]
// Prints one line:
//   agents=N connections=C sessions=0|1 sessions_ms=S joins_ms=T first_to_last_ms=F
//   failed=K round=R world=W [server_rss_kb=before/after]
// sessions_ms: first hello sent -> last SESSION_OPENED; joins_ms: first Join sent -> last
// assignment received; last_join_to_last_assignment_ms: the last Join *sent* -> the last
// assignment (the server's round completion + delivery once every agent has arrived).
// server_rss_kb is read from /proc/PID/status while every stream and call is still open.
// The server must run with long keep-alive and join timeouts (no keep-alives are sent).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/rendezvous.grpc.pb.h"
#include "rendezvous/sync_debug.h"
#include "rendezvous/types.h"

namespace {

namespace v1 = ::fabric::v1;
using Clock = std::chrono::steady_clock;

long RssKb(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// Counts completions; notifies when `n` have arrived.
struct Latch {
  explicit Latch(int n) : n(n) {}
  void Arrive() {
    if (count.fetch_add(1) + 1 == n) done.Notify();
  }
  const int n;
  std::atomic<int> count{0};
  absl::Notification done;
};

// One simulated agent's session: writes the hello, reads SESSION_OPENED, then keeps
// reading (events) until the stream is cancelled at the end.
class Session final : public grpc::ClientBidiReactor<v1::SessionRequest, v1::Event> {
 public:
  Session(v1::Rendezvous::Stub* stub, const std::string& node, Latch* opened, Latch* done)
      : opened_(opened), done_(done) {
    auto* h = hello_.mutable_header();
    h->set_run_id("scale");
    h->set_node_id(node);
    h->set_protocol_version(fabric::rendezvous::kProtocolVersion);
    hello_.set_hello(true);
    stub->async()->Session(&ctx_, this);
    StartWrite(&hello_);
    StartRead(&event_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnWriteDone(bool) override {}
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!first_) {
      first_ = true;
      if (event_.type() != v1::Event::SESSION_OPENED) failed = true;
      opened_->Arrive();
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!first_) {
      failed = true;
      std::fprintf(stderr, "session: %s\n", s.error_message().c_str());
      opened_->Arrive();
    }
    done_->Arrive();
  }
  bool failed = false;

 private:
  grpc::ClientContext ctx_;
  v1::SessionRequest hello_;
  v1::Event event_;
  bool first_ = false;
  Latch* const opened_;
  Latch* const done_;
};

struct Call {
  grpc::ClientContext ctx;
  v1::JoinRequest req;
  v1::JoinResponse resp;
};

}  // namespace

int main(int argc, char** argv) {
  fabric::rendezvous::DisableMutexDeadlockDetection();
  std::vector<std::string> pos;
  bool sessions = false;
  int server_pid = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--sessions") {
      sessions = true;
    } else if (a == "--server-pid" && i + 1 < argc) {
      server_pid = std::atoi(argv[++i]);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() < 2) {
    std::fprintf(stderr,
                 "usage: scale_bench HOST:PORT AGENTS [CONNECTIONS] [--sessions] "
                 "[--server-pid PID]\n");
    return 2;
  }
  const std::string address = pos[0];
  const int n = std::atoi(pos[1].c_str());
  const int conns = pos.size() > 2 ? std::atoi(pos[2].c_str()) : 64;
  std::vector<std::unique_ptr<v1::Rendezvous::Stub>> stubs;
  for (int c = 0; c < conns; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per stub
    auto ch = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stubs.push_back(v1::Rendezvous::NewStub(ch));
  }
  const long rss0 = RssKb(server_pid);

  // Phase 1 (optional): every agent opens its session stream.
  Latch opened(n), closed(n);
  std::vector<std::unique_ptr<Session>> streams;
  double sessions_ms = 0;
  if (sessions) {
    streams.reserve(n);
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      streams.push_back(std::make_unique<Session>(stubs[i % conns].get(), absl::StrCat("sim-", i),
                                                  &opened, &closed));
    }
    opened.done.WaitForNotification();
    sessions_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }

  // Phase 2: every agent joins.
  std::vector<std::unique_ptr<Call>> calls(n);
  for (int i = 0; i < n; ++i) {
    calls[i] = std::make_unique<Call>();
    auto* h = calls[i]->req.mutable_header();
    h->set_run_id("scale");
    h->set_node_id(absl::StrCat("sim-", i));
    h->set_protocol_version(fabric::rendezvous::kProtocolVersion);
    h->set_request_id(absl::StrCat("join-", i));
    calls[i]->req.set_local_world_size(1);
    calls[i]->req.set_address("10.0.0.1");
    calls[i]->req.set_requested_node_rank(-1);
    calls[i]->req.set_master_port(29500);
    calls[i]->req.set_min_nodes(n);
    calls[i]->req.set_max_nodes(n);
    calls[i]->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  }
  std::atomic<int> failed{0};
  Latch joined(n);
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    stubs[i % conns]->async()->Join(
        &calls[i]->ctx, &calls[i]->req, &calls[i]->resp, [&, i](grpc::Status s) {
          if (!s.ok() && failed.fetch_add(1) == 0) {
            std::fprintf(stderr, "join %d: %s\n", i, s.error_message().c_str());
          }
          joined.Arrive();
        });
  }
  const auto last_sent = Clock::now();
  joined.done.WaitForNotification();
  const auto t1 = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double tail_ms = std::chrono::duration<double, std::milli>(t1 - last_sent).count();
  const long rss1 = RssKb(server_pid);
  for (const auto& s : streams) {
    if (s->failed) failed.fetch_add(1);
  }
  const auto& a = calls[0]->resp.assignment();
  std::printf(
      "agents=%d connections=%d sessions=%d sessions_ms=%.1f joins_ms=%.1f "
      "last_join_to_last_assignment_ms=%.1f failed=%d round=%lld world=%d",
      n, conns, sessions ? 1 : 0, sessions_ms, ms, tail_ms, failed.load(),
      static_cast<long long>(a.round()), a.world_size());
  if (server_pid > 0) std::printf(" server_rss_kb=%ld/%ld", rss0, rss1);
  std::printf("\n");
  std::fflush(stdout);
  for (const auto& s : streams) s->Cancel();
  if (sessions) closed.done.WaitForNotification();
  return failed.load() == 0 ? 0 : 1;
}
