// Store operations of fabric-run's rendezvous server over loopback gRPC, next to a bare
// gRPC echo round trip (the floor any gRPC store can reach). One client, sequential
// calls; then a 32-party barrier (Add + Wait) with 32 clients on 32 connections.
// Prints markdown rows: | operation | mean us | p50 us | p99 us |
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/rendezvous/bench_util.h"
#include "bench/rendezvous/echo.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "rendezvous/grpc_store.h"
#include "rendezvous/server.h"
#include "rendezvous/sync_debug.h"

namespace fabric {
namespace bench {
namespace {

class EchoService final : public fabric::bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const EchoMessage* req,
                                 EchoMessage* resp) override {
    resp->set_payload(req->payload());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per client
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

int Main(int n) {
  using rendezvous::GrpcStore;
  using rendezvous::GrpcStoreOptions;
  rendezvous::ServerOptions so;
  auto server = rendezvous::RendezvousServer::Create(so);
  Check(server.status());
  Check((*server)->Start().status());

  EchoService echo;
  grpc::ServerBuilder builder;
  int echo_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &echo_port);
  builder.RegisterService(&echo);
  auto echo_server = builder.BuildAndStart();
  auto echo_stub = fabric::bench::Echo::NewStub(OwnChannel(absl::StrCat("127.0.0.1:", echo_port)));

  GrpcStoreOptions go;
  go.run_id = "bench";
  go.node_id = "client";
  GrpcStore store(OwnChannel((*server)->address()), go);
  const std::string value(32, 'v');
  const absl::Time far = absl::InfiniteFuture();
  Check(store.Set("present", value));

  // Interleaved: each iteration runs the echo and every store op once, so all rows see
  // the same load; the last column is the mean relative to the bare echo.
  std::vector<std::string> names = {"bare gRPC echo (32 B)", "set", "get (key present)", "add",
                                    "wait (key present)"};
  std::vector<std::function<void(int)>> ops = {
      [&](int) {
        grpc::ClientContext ctx;
        EchoMessage req, resp;
        req.set_payload(value);
        echo_stub->Echo(&ctx, req, &resp);
      },
      [&](int i) { Check(store.Set(absl::StrCat("k", i), value)); },
      [&](int) { Check(store.Get("present", far).status()); },
      [&](int) { Check(store.Add("ctr", 1).status()); },
      [&](int) { Check(store.Wait({"present"}, far)); },
  };
  std::vector<Stats> stats = MeasureInterleaved(n, n / 10, ops);
  std::printf("| operation (1 client, sequential, interleaved) | mean us | p50 us | p99 us | "
              "mean / echo mean |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (size_t k = 0; k < ops.size(); ++k) {
    std::printf("| %s | %.1f | %.1f | %.1f | %.2fx |\n", names[k].c_str(), stats[k].mean_us,
                stats[k].p50_us, stats[k].p99_us, stats[k].mean_us / stats[0].mean_us);
  }
  std::fflush(stdout);

  constexpr int kParties = 32;
  const int rounds = std::max(10, n / 50);
  std::vector<std::unique_ptr<GrpcStore>> clients;
  for (int p = 0; p < kParties; ++p) {
    GrpcStoreOptions o = go;
    o.node_id = absl::StrCat("p", p);
    clients.push_back(std::make_unique<GrpcStore>(OwnChannel((*server)->address()), o));
    Check(clients.back()->Set("warm", "1"));
  }
  std::vector<double> per_barrier;
  for (int r = 0; r < rounds; ++r) {
    const std::string arrived = absl::StrCat("barrier/", r, "/arrived");
    const std::string done = absl::StrCat("barrier/", r, "/done");
    StartGate gate;
    std::vector<std::thread> threads;
    for (int p = 0; p < kParties; ++p) {
      threads.emplace_back([&, p] {
        gate.Arrive();
        auto v = clients[p]->Add(arrived, 1);
        Check(v.status());
        if (*v == kParties) Check(clients[p]->Set(done, "1"));
        Check(clients[p]->Wait({done}, far));
      });
    }
    gate.WaitFor(kParties);
    auto t0 = std::chrono::steady_clock::now();
    gate.Open();
    for (auto& t : threads) t.join();
    per_barrier.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(per_barrier.begin(), per_barrier.end());
  double mean = 0;
  for (double u : per_barrier) mean += u;
  Stats b{mean / per_barrier.size(), per_barrier[per_barrier.size() / 2],
          per_barrier[std::min(per_barrier.size() - 1, per_barrier.size() * 99 / 100)]};
  std::printf("\n| barrier | mean us | p50 us | p99 us |\n|---|---:|---:|---:|\n");
  PrintRow("32-party barrier (add + wait, 32 connections)", b);
  echo_server->Shutdown();
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace fabric

int main(int argc, char** argv) {
  fabric::rendezvous::DisableMutexDeadlockDetection();
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  return fabric::bench::Main(n);
}
