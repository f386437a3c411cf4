// EtcdClient: the few etcd v3 calls the etcd control plane needs (KV, Txn, Lease, Watch),
// over etcd's own gRPC API (third_party/etcd_api), with a deadline on every call and
// fail-over between the cluster's members. No consensus here: etcd is the engine.
//
//   EtcdOptions o;  o.endpoints = {"h1:2379", "h2:2379", "h3:2379"};
//   FABRIC_ASSIGN_OR_RETURN(auto etcd, EtcdClient::Create(o));
//   FABRIC_ASSIGN_OR_RETURN(int64_t lease, etcd->GrantLease(absl::Seconds(5)));
//   FABRIC_ASSIGN_OR_RETURN(bool won, etcd->PutIf("/job/round", "1", 0, lease));  // CAS
//   auto watch = etcd->Watch("/job/", from_revision, [](const EtcdWatchBatch& b) {...});
//
// Fail-over: a call that gets UNAVAILABLE or DEADLINE_EXCEEDED from one member is tried on
// the next (each within `call_timeout`), and the member that answered is used first from
// then on. With quorum lost every member fails so: the call returns UNAVAILABLE after at
// most endpoints x call_timeout (DEADLINE_EXCEEDED when every member timed out, none
// refused: etcd is there but slow, or the network drops packets). An UNAVAILABLE write is "unknown", not "not done": etcd
// may have proposed it and commit it once quorum is back, so writes that matter are
// compare-and-swaps (PutIf) or idempotent. Watches carry etcd's "hasleader" requirement, so a member
// cut off from its leader ends the stream instead of going silent; the watch then resumes
// on another member from the revision after the last one it delivered (no event lost, none
// twice).
//
// Thread safety: every method may be called from any thread.
#ifndef FABRIC_RENDEZVOUS_ETCD_CLIENT_H_
#define FABRIC_RENDEZVOUS_ETCD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "rendezvous/tls.h"

namespace fabric {
namespace rendezvous {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "host:port" of each member
  TlsConfig tls;                       // enabled(): https, else plain
  absl::Duration call_timeout = absl::Seconds(2);
};

struct EtcdKv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKv kv;  // kDelete: key and mod_revision only
};

// What a watch delivers: the events of one or more revisions, in order.
struct EtcdWatchBatch {
  std::vector<EtcdEvent> events;
  int64_t revision = 0;  // the store's revision when this batch was sent
};

class EtcdWatch;

class EtcdClient {
 public:
  // INVALID_ARGUMENT when no endpoint is given or one is not host:port. Connects lazily:
  // an unreachable cluster shows at the first call.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(const EtcdOptions& options);
  ~EtcdClient();

  // The store's revision after the put.
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);
  absl::StatusOr<std::optional<EtcdKv>> Get(const std::string& key);
  struct Range {
    std::vector<EtcdKv> kvs;  // sorted by key
    int64_t revision = 0;     // the store's revision the range was read at
  };
  absl::StatusOr<Range> GetPrefix(const std::string& prefix);
  // The keys in [key, range_end) (etcd's range; range_end "" is `key` alone); with
  // `keys_only`, values are left out (etcd sends less, the kvs' values are empty).
  absl::StatusOr<Range> GetRange(const std::string& key, const std::string& range_end,
                                 bool keys_only = false);
  // Of the keys under `prefix` created before revision `create_revision`, the one created
  // last (etcd's election recipe: the key to wait on), or none; `revision` is the store's.
  struct Last {
    std::optional<EtcdKv> kv;
    int64_t revision = 0;
  };
  absl::StatusOr<Last> LastCreatedBefore(const std::string& prefix, int64_t create_revision);
  // The number of keys deleted.
  absl::StatusOr<int64_t> DeletePrefix(const std::string& prefix);
  // Compare-and-swap in one transaction: puts `value` when `key`'s mod_revision is
  // `expected_mod_revision` (0: the key must not exist). Whether it did.
  absl::StatusOr<bool> PutIf(const std::string& key, const std::string& value,
                             int64_t expected_mod_revision, int64_t lease = 0);

  // A lease of `ttl` (whole seconds, at least 1); its id.
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl);
  // Deletes the lease and every key attached to it.
  absl::Status RevokeLease(int64_t lease);
  // Renews the lease once: the TTL it has now. NOT_FOUND when it has expired.
  absl::StatusOr<absl::Duration> KeepAliveOnce(int64_t lease);

  // Events on the keys under `prefix` from `from_revision` (0: from now), delivered to
  // `on_batch` on the watch's own thread, in revision order. `on_error` runs once when the
  // watch cannot go on (the revision was compacted away, or `give_up_after` passed with no
  // member answering); no batch follows it. Destroying the EtcdWatch stops it.
  std::unique_ptr<EtcdWatch> Watch(const std::string& prefix, int64_t from_revision,
                                   std::function<void(const EtcdWatchBatch&)> on_batch,
                                   std::function<void(const absl::Status&)> on_error,
                                   absl::Duration give_up_after = absl::Seconds(30));
  // The same for the keys in [key, range_end) (range_end "": `key` alone).
  std::unique_ptr<EtcdWatch> WatchRange(const std::string& key, const std::string& range_end,
                                        int64_t from_revision,
                                        std::function<void(const EtcdWatchBatch&)> on_batch,
                                        std::function<void(const absl::Status&)> on_error,
                                        absl::Duration give_up_after = absl::Seconds(30));

  // The member used first now ("host:port").
  std::string endpoint() const;

 private:
  friend class EtcdWatch;
  explicit EtcdClient(EtcdOptions options);
  struct Member {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  };
  // Runs `rpc(member, context)` on the members from the preferred one on, moving on for
  // UNAVAILABLE and DEADLINE_EXCEEDED; each attempt has call_timeout.
  absl::Status OnAnyMember(const std::string& what,
                           const std::function<grpc::Status(Member&, grpc::ClientContext*)>& rpc);
  int preferred() const;

  const EtcdOptions options_;
  std::vector<Member> members_;
  std::atomic<int> preferred_{0};
};

// A running watch (EtcdClient::Watch). Stops, and joins its thread, when destroyed.
class EtcdWatch {
 public:
  ~EtcdWatch();

 private:
  friend class EtcdClient;
  EtcdWatch() = default;
  void Run();

  EtcdClient* client_ = nullptr;
  std::string prefix_;  // the key (a prefix when range_end_ is PrefixEnd(prefix_))
  std::string range_end_;
  int64_t next_revision_ = 0;
  absl::Duration give_up_after_;
  std::function<void(const EtcdWatchBatch&)> on_batch_;
  std::function<void(const absl::Status&)> on_error_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

// The smallest key greater than every key that starts with `prefix` (etcd's range_end).
std::string PrefixEnd(const std::string& prefix);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_ETCD_CLIENT_H_
