// The gRPC floor for the scale benchmark: a server that implements only Join, with the
// least possible work (hold every call; when `min_nodes` calls are held, answer each
// with its rank), on the same gRPC callback API, build and machine as fabric-rendezvous.
// scale_bench against it measures what 16,000 long-polling gRPC calls cost by themselves;
// the difference to fabric-rendezvous is ours (state machine, replay cache, validation).
//
//   floor_server   (prints the bound port on stdout; serves until killed)
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "proto/rendezvous.grpc.pb.h"
#include "rendezvous/sync_debug.h"

namespace {

namespace v1 = ::fabric::v1;

class FloorService final : public v1::Rendezvous::CallbackService {
 public:
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* ctx, const v1::JoinRequest* req,
                                 v1::JoinResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    std::vector<Held> ready;
    {
      absl::MutexLock lock(&mu_);
      held_.push_back(Held{reactor, resp});
      if (static_cast<int>(held_.size()) < req->min_nodes()) return reactor;
      ready.swap(held_);
    }
    const int n = static_cast<int>(ready.size());
    for (int i = 0; i < n; ++i) {
      ready[i].response->mutable_assignment()->set_round(1);
      ready[i].response->mutable_assignment()->set_node_rank(i);
      ready[i].response->mutable_assignment()->set_num_nodes(n);
      ready[i].response->mutable_assignment()->set_world_size(n);
      ready[i].reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

 private:
  struct Held {
    grpc::ServerUnaryReactor* reactor;
    v1::JoinResponse* response;
  };
  absl::Mutex mu_;
  std::vector<Held> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

int main() {
  fabric::rendezvous::DisableMutexDeadlockDetection();
  FloorService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return 1;
  std::printf("%d\n", port);
  std::fflush(stdout);
  server->Wait();
  return 0;
}
