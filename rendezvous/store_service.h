// StoreService: the gRPC adapter over an InMemoryStore (callback API: Get and Wait
// park no thread while they wait). Calls are authenticated and fenced (run id, and the
// round when the header names one) through the RendezvousService; Add, CompareSet and
// Delete are replayed by request id, so a retry after a lost response is applied once.
//
// Thread safety: safe for concurrent calls. Owns neither the store nor the fence.
#ifndef FABRIC_RENDEZVOUS_STORE_SERVICE_H_
#define FABRIC_RENDEZVOUS_STORE_SERVICE_H_

#include "proto/store.grpc.pb.h"
#include "rendezvous/memory_store.h"
#include "rendezvous/rendezvous_service.h"
#include "rendezvous/server_util.h"

namespace fabric {
namespace rendezvous {

class StoreService final : public fabric::v1::Store::CallbackService {
 public:
  StoreService(InMemoryStore* store, RendezvousService* fence)
      : store_(store), fence_(fence) {}

  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* ctx,
                                const fabric::v1::SetRequest* request,
                                fabric::v1::SetResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const fabric::v1::GetRequest* request,
                                fabric::v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Add(grpc::CallbackServerContext* ctx,
                                const fabric::v1::AddRequest* request,
                                fabric::v1::AddResponse* response) override;
  grpc::ServerUnaryReactor* CompareSet(grpc::CallbackServerContext* ctx,
                                       const fabric::v1::CompareSetRequest* request,
                                       fabric::v1::CompareSetResponse* response) override;
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* ctx,
                                 const fabric::v1::WaitRequest* request,
                                 fabric::v1::WaitResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const fabric::v1::DeleteRequest* request,
                                   fabric::v1::DeleteResponse* response) override;

 private:
  InMemoryStore* const store_;
  RendezvousService* const fence_;
  ReplayCache replay_;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_STORE_SERVICE_H_
