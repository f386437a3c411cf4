// Scale: one load generator drives N simulated agents against one rendezvous server
// (a separate fabric-rendezvous process): every agent sends its Join at once over C
// connections (callback API, no thread per agent); reports the time from the first
// Join sent to the last assignment received. The server must run with long keep-alive
// and join timeouts (the simulated agents open no session stream).
//
//   scale_bench HOST:PORT AGENTS [CONNECTIONS]
// Prints: agents=N connections=C joins_ms=T round=R world=W
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/rendezvous.grpc.pb.h"
#include "rendezvous/types.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: scale_bench HOST:PORT AGENTS [CONNECTIONS]\n");
    return 2;
  }
  const std::string address = argv[1];
  const int n = std::atoi(argv[2]);
  const int conns = argc > 3 ? std::atoi(argv[3]) : 64;
  std::vector<std::unique_ptr<fabric::v1::Rendezvous::Stub>> stubs;
  for (int c = 0; c < conns; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto ch = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stubs.push_back(fabric::v1::Rendezvous::NewStub(ch));
  }
  struct Call {
    grpc::ClientContext ctx;
    fabric::v1::JoinRequest req;
    fabric::v1::JoinResponse resp;
  };
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
  std::atomic<int> done{0}, failed{0};
  absl::Notification all;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    stubs[i % conns]->async()->Join(&calls[i]->ctx, &calls[i]->req, &calls[i]->resp,
                                     [&, i](grpc::Status s) {
                                       if (!s.ok()) {
                                         if (failed.fetch_add(1) == 0) {
                                           std::fprintf(stderr, "join %d: %s\n", i,
                                                        s.error_message().c_str());
                                         }
                                       }
                                       if (done.fetch_add(1) + 1 == n) all.Notify();
                                     });
  }
  all.WaitForNotification();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const auto& a = calls[0]->resp.assignment();
  std::printf("agents=%d connections=%d joins_ms=%.1f failed=%d round=%lld world=%d\n", n, conns,
              ms, failed.load(), static_cast<long long>(a.round()), a.world_size());
  return failed.load() == 0 ? 0 : 1;
}
