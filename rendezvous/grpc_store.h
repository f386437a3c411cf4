// GrpcStore: the Store of a rendezvous server, seen from a client. Every call is
// retried on UNAVAILABLE until its deadline, with a request id that the server uses
// to apply Add / CompareSet / Delete exactly once.
//
// Thread safety: safe for concurrent use.
#ifndef FABRIC_RENDEZVOUS_GRPC_STORE_H_
#define FABRIC_RENDEZVOUS_GRPC_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/channel.h"
#include "proto/store.grpc.pb.h"
#include "rendezvous/fault_injector.h"
#include "rendezvous/rpc_util.h"
#include "rendezvous/store.h"
#include "rendezvous/tls.h"

namespace fabric {
namespace rendezvous {

struct GrpcStoreOptions {
  std::string run_id;
  std::string node_id;
  std::string token;
  TlsConfig tls;  // Connect(): disabled means plaintext
  // The round the calls are fenced on; 0 = unfenced (keys carry the round instead).
  int64_t round = 0;
  // Deadline of calls that do not wait (Set, Add, ...), retries included.
  absl::Duration rpc_timeout = absl::Seconds(30);
  FaultInjector* faults = nullptr;  // tests only; not owned
};

class GrpcStore final : public Store {
 public:
  // No I/O: the channel connects lazily.
  GrpcStore(std::shared_ptr<grpc::Channel> channel, const GrpcStoreOptions& options);
  // Creates a channel to `address` ("host:port").
  static std::unique_ptr<GrpcStore> Connect(const std::string& address,
                                            const GrpcStoreOptions& options);

  absl::Status Set(const std::string& key, const std::string& value) override;
  absl::StatusOr<std::string> Get(const std::string& key, absl::Time deadline) override;
  absl::StatusOr<int64_t> Add(const std::string& key, int64_t delta) override;
  absl::StatusOr<std::string> CompareSet(const std::string& key, const std::string& expected,
                                         const std::string& desired) override;
  absl::Status Wait(const std::vector<std::string>& keys, absl::Time deadline) override;
  absl::StatusOr<bool> Delete(const std::string& key) override;

 private:
  void FillHeader(fabric::v1::Header* header) const;
  RetryPolicy Policy(absl::Time deadline, bool waits) const;

  const GrpcStoreOptions options_;
  std::unique_ptr<fabric::v1::Store::Stub> stub_;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_GRPC_STORE_H_
