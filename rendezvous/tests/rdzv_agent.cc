// A minimal agent for multi-process tests and benchmarks: connects, joins, prints its
// assignment, then (with --wait) follows the events, re-joining on round changes.
//
//   rdzv_agent --server H:P --node ID [--min N] [--max N] [--lws N] [--restarts N]
//              [--token T] [--wait] [--keepalive-ms N] [--linger-ms N]
//
// Output lines (stdout, flushed):
//   ASSIGNED node=ID rank=R nodes=N world=W round=K master=A:P start_us=.. end_us=..
//            join_sent_us=..  (start: main() entered; join_sent: session open, Join sent)
//   EVENT type=round-changed round=K reason=...
// --linger-ms: without --wait, stay connected this long after the assignment before
// exiting (benchmarks: an early exit is a node loss that restarts the others' round).
// Exit: 0 after run-succeeded or (without --wait) after the first assignment; 1 after
// run-failed / connection-lost; 2 for bad flags; 3 when connect/join fails.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "rendezvous/client.h"
#include "rendezvous/sync_debug.h"

namespace {

int64_t NowUs() { return absl::ToUnixMicros(absl::Now()); }

// joined_us: when the Join request was sent (after the session opened).
void PrintAssignment(const std::string& node, const fabric::rendezvous::Assignment& a,
                     int64_t start_us, int64_t end_us, int64_t joined_us) {
  std::printf(
      "ASSIGNED node=%s rank=%d nodes=%d world=%d round=%lld master=%s:%d start_us=%lld "
      "end_us=%lld join_sent_us=%lld\n",
      node.c_str(), a.node_rank, a.num_nodes, a.world_size, static_cast<long long>(a.round),
      a.master_addr.c_str(), a.master_port, static_cast<long long>(start_us),
      static_cast<long long>(end_us), static_cast<long long>(joined_us));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fabric::rendezvous;
  const int64_t start = NowUs();  // main() entered
  DisableMutexDeadlockDetection();
  ClientOptions o;
  o.run_id = "test-run";
  o.advertised_address = "127.0.0.1";
  o.join_timeout = absl::Seconds(120);
  bool wait = false;
  int linger_ms = 0;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "rdzv_agent: %s needs a value\n", f.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto num = [&]() {
      int v = 0;
      std::string s = next();
      if (!absl::SimpleAtoi(s, &v)) {
        std::fprintf(stderr, "rdzv_agent: %s: '%s' is not a number\n", f.c_str(), s.c_str());
        std::exit(2);
      }
      return v;
    };
    if (f == "--server")
      o.server_address = next();
    else if (f == "--node")
      o.node_id = next();
    else if (f == "--run-id")
      o.run_id = next();
    else if (f == "--min")
      o.min_nodes = num();
    else if (f == "--max")
      o.max_nodes = num();
    else if (f == "--lws")
      o.local_world_size = num();
    else if (f == "--restarts")
      o.max_restarts = num();
    else if (f == "--port")
      o.master_port = num();
    else if (f == "--token")
      o.token = next();
    else if (f == "--keepalive-ms")
      o.keepalive_interval = absl::Milliseconds(num());
    else if (f == "--linger-ms")
      linger_ms = num();
    else if (f == "--wait")
      wait = true;
    else {
      std::fprintf(stderr, "rdzv_agent: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  auto client = RendezvousClient::Connect(o);
  if (!client.ok()) {
    std::fprintf(stderr, "rdzv_agent: %s\n", client.status().ToString().c_str());
    return 3;
  }
  const int64_t connected = NowUs();
  auto a = (*client)->Join();
  const int64_t end = NowUs();
  if (std::getenv("RDZV_AGENT_VERBOSE") != nullptr) {
    std::fprintf(stderr, "connect_ms=%.3f join_ms=%.3f\n", (connected - start) / 1000.0,
                 (end - connected) / 1000.0);
  }
  if (!a.ok()) {
    std::fprintf(stderr, "rdzv_agent: %s\n", a.status().ToString().c_str());
    return 3;
  }
  PrintAssignment(o.node_id, *a, start, end, connected);
  if (!wait) {
    if (linger_ms > 0) absl::SleepFor(absl::Milliseconds(linger_ms));
    return 0;
  }
  while (true) {
    auto e = (*client)->NextEvent(absl::InfiniteFuture());
    if (!e.ok()) return 1;
    std::printf("EVENT type=%s round=%lld reason=%s\n", EventTypeName(e->type),
                static_cast<long long>(e->round), e->reason.c_str());
    std::fflush(stdout);
    switch (e->type) {
      case EventType::kRoundChanged: {
        const int64_t s = NowUs();
        auto again = (*client)->Join();
        if (!again.ok()) {
          std::fprintf(stderr, "rdzv_agent: %s\n", again.status().ToString().c_str());
          return 3;
        }
        PrintAssignment(o.node_id, *again, s, NowUs(), s);
        break;
      }
      case EventType::kRunSucceeded: return 0;
      case EventType::kRunFailed:
      case EventType::kConnectionLost: return 1;
      default: break;
    }
  }
}
