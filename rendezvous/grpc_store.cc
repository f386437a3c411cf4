#include "rendezvous/grpc_store.h"

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "rendezvous/rpc_util.h"
#include "rendezvous/types.h"

namespace fabric {
namespace rendezvous {

namespace v1 = ::fabric::v1;

namespace {
int64_t TimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  return std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
}
}  // namespace

GrpcStore::GrpcStore(std::shared_ptr<grpc::Channel> channel, const GrpcStoreOptions& options)
    : options_(options), stub_(v1::Store::NewStub(channel)) {}

std::unique_ptr<GrpcStore> GrpcStore::Connect(const std::string& address,
                                              const GrpcStoreOptions& options) {
  return std::make_unique<GrpcStore>(
      grpc::CreateChannel(address, ChannelCredentialsFor(options.tls)), options);
}

void GrpcStore::FillHeader(v1::Header* header) const {
  header->set_run_id(options_.run_id);
  header->set_node_id(options_.node_id);
  header->set_round(options_.round);
  header->set_protocol_version(kProtocolVersion);
  header->set_request_id(NewRequestId());
}

RetryPolicy GrpcStore::Policy(absl::Time deadline, bool waits) const {
  RetryPolicy p;
  p.token = options_.token;
  p.faults = options_.faults;
  if (waits) {
    // The server answers DEADLINE_EXCEEDED (naming the missing keys) at `deadline`;
    // the gRPC deadline only backs it up.
    p.deadline = deadline;
    p.attempt_timeout = absl::InfiniteDuration();
    p.slack = absl::Seconds(5);
  } else {
    p.deadline = absl::Now() + options_.rpc_timeout;
    p.attempt_timeout = options_.rpc_timeout;
  }
  return p;
}

absl::Status GrpcStore::Set(const std::string& key, const std::string& value) {
  v1::SetRequest req;
  FillHeader(req.mutable_header());
  req.set_key(key);
  req.set_value(value);
  return CallWithRetry("store set " + key, Policy(absl::InfiniteFuture(), false),
                       [&](grpc::ClientContext* ctx) {
                         v1::SetResponse resp;
                         return stub_->Set(ctx, req, &resp);
                       });
}

absl::StatusOr<std::string> GrpcStore::Get(const std::string& key, absl::Time deadline) {
  v1::GetRequest req;
  FillHeader(req.mutable_header());
  req.set_key(key);
  v1::GetResponse resp;
  absl::Status s = CallWithRetry("store get " + key, Policy(deadline, true),
                                 [&](grpc::ClientContext* ctx) {
                                   req.set_timeout_ms(TimeoutMs(deadline));
                                   return stub_->Get(ctx, req, &resp);
                                 });
  if (!s.ok()) return s;
  return resp.value();
}

absl::StatusOr<int64_t> GrpcStore::Add(const std::string& key, int64_t delta) {
  v1::AddRequest req;
  FillHeader(req.mutable_header());
  req.set_key(key);
  req.set_delta(delta);
  v1::AddResponse resp;
  absl::Status s = CallWithRetry("store add " + key, Policy(absl::InfiniteFuture(), false),
                                 [&](grpc::ClientContext* ctx) {
                                   return stub_->Add(ctx, req, &resp);
                                 });
  if (!s.ok()) return s;
  return resp.value();
}

absl::StatusOr<std::string> GrpcStore::CompareSet(const std::string& key,
                                                  const std::string& expected,
                                                  const std::string& desired) {
  v1::CompareSetRequest req;
  FillHeader(req.mutable_header());
  req.set_key(key);
  req.set_expected(expected);
  req.set_desired(desired);
  v1::CompareSetResponse resp;
  absl::Status s = CallWithRetry("store compare_set " + key,
                                 Policy(absl::InfiniteFuture(), false),
                                 [&](grpc::ClientContext* ctx) {
                                   return stub_->CompareSet(ctx, req, &resp);
                                 });
  if (!s.ok()) return s;
  return resp.value();
}

absl::Status GrpcStore::Wait(const std::vector<std::string>& keys, absl::Time deadline) {
  v1::WaitRequest req;
  FillHeader(req.mutable_header());
  for (const std::string& k : keys) req.add_keys(k);
  return CallWithRetry("store wait", Policy(deadline, true), [&](grpc::ClientContext* ctx) {
    req.set_timeout_ms(TimeoutMs(deadline));
    v1::WaitResponse resp;
    return stub_->Wait(ctx, req, &resp);
  });
}

absl::StatusOr<bool> GrpcStore::Delete(const std::string& key) {
  v1::DeleteRequest req;
  FillHeader(req.mutable_header());
  req.set_key(key);
  v1::DeleteResponse resp;
  absl::Status s = CallWithRetry("store delete " + key, Policy(absl::InfiniteFuture(), false),
                                 [&](grpc::ClientContext* ctx) {
                                   return stub_->Delete(ctx, req, &resp);
                                 });
  if (!s.ok()) return s;
  return resp.deleted();
}

}  // namespace rendezvous
}  // namespace fabric
