// Runs the Store contract against every implementation, including the gRPC store over a
// transport that loses every third request, or every third response.
#include "rendezvous/store_contract_test.h"

#include "rendezvous/fault_injector.h"
#include "rendezvous/grpc_store.h"
#include "rendezvous/memory_store.h"
#include "rendezvous/prefix_store.h"
#include "rendezvous/server.h"

namespace fabric {
namespace rendezvous {
namespace {

class MemoryHarness : public StoreHarness {
 public:
  Store* store() override { return &store_; }

 private:
  InMemoryStore store_;
};

class PrefixHarness : public StoreHarness {
 public:
  PrefixHarness() : prefix_(PrefixStore::RoundPrefix("run1", 3), &base_) {}
  Store* store() override { return &prefix_; }

 private:
  InMemoryStore base_;
  PrefixStore prefix_;
};

class GrpcHarness : public StoreHarness {
 public:
  explicit GrpcHarness(FaultMode mode) {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.token = "secret";
    auto server = RendezvousServer::Create(o);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto port = server_->Start();
    EXPECT_TRUE(port.ok()) << port.status();
    if (mode != FaultMode::kNone) faults_.FailEvery(3, mode);
    GrpcStoreOptions so;
    so.run_id = "run1";
    so.node_id = "tester";
    so.token = "secret";
    so.faults = &faults_;
    store_ = GrpcStore::Connect(server_->address(), so);
  }
  ~GrpcHarness() override {
    store_.reset();
    server_->Shutdown();
  }
  Store* store() override { return store_.get(); }

 private:
  std::unique_ptr<RendezvousServer> server_;
  FaultInjector faults_;
  std::unique_ptr<GrpcStore> store_;
};

INSTANTIATE_TEST_SUITE_P(
    AllStores, StoreContractTest,
    ::testing::Values(
        StoreFactory{"InMemory", [] { return std::make_unique<MemoryHarness>(); }},
        StoreFactory{"Prefix", [] { return std::make_unique<PrefixHarness>(); }},
        StoreFactory{"Grpc",
                     [] { return std::make_unique<GrpcHarness>(FaultMode::kNone); }},
        StoreFactory{"GrpcRequestsLost",
                     [] { return std::make_unique<GrpcHarness>(FaultMode::kDropRequest); }},
        StoreFactory{"GrpcResponsesLost",
                     [] { return std::make_unique<GrpcHarness>(FaultMode::kDropResponse); }}),
    StoreContractTest::ParamName);

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
