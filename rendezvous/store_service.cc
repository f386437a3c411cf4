#include "rendezvous/store_service.h"

#include <string>
#include <vector>

#include "common/grpc_status.h"

namespace fabric {
namespace rendezvous {

namespace v1 = ::fabric::v1;

namespace {

absl::Time DeadlineFromTimeout(absl::Time now, int64_t timeout_ms) {
  if (timeout_ms < 0) return absl::InfiniteFuture();
  return now + absl::Milliseconds(timeout_ms);
}

// Runs `apply` once per request id: a retried call gets the recorded outcome.
template <typename Response, typename Fn>
absl::Status ApplyOnce(ReplayCache* replay, const v1::Header& header, Response* response,
                       Fn apply) {
  const std::string key = ReplayCache::Key(header);
  if (auto hit = replay->Lookup(key)) {
    response->ParseFromString(hit->response);
    return hit->status;
  }
  absl::Status s = apply();
  replay->Insert(key, {s, response->SerializeAsString()});
  return s;
}

}  // namespace

grpc::ServerUnaryReactor* StoreService::Set(grpc::CallbackServerContext* ctx,
                                            const v1::SetRequest* request,
                                            v1::SetResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = fence_->CheckCall(*ctx, request->header());
  if (s.ok()) s = store_->Set(request->key(), request->value());
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* StoreService::Get(grpc::CallbackServerContext* ctx,
                                            const v1::GetRequest* request,
                                            v1::GetResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = fence_->CheckCall(*ctx, request->header());
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const absl::Time now = absl::Now();
  store_->WatchAsync({request->key()}, now, DeadlineFromTimeout(now, request->timeout_ms()),
                     [reactor, response](absl::StatusOr<std::vector<std::string>> values) {
                       if (values.ok()) response->set_value(std::move(values->front()));
                       reactor->Finish(ToGrpcStatus(values.status()));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* StoreService::Add(grpc::CallbackServerContext* ctx,
                                            const v1::AddRequest* request,
                                            v1::AddResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = fence_->CheckCall(*ctx, request->header());
  if (s.ok()) {
    s = ApplyOnce(&replay_, request->header(), response, [&]() -> absl::Status {
      absl::StatusOr<int64_t> v = store_->Add(request->key(), request->delta());
      if (v.ok()) response->set_value(*v);
      return v.status();
    });
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* StoreService::CompareSet(grpc::CallbackServerContext* ctx,
                                                   const v1::CompareSetRequest* request,
                                                   v1::CompareSetResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = fence_->CheckCall(*ctx, request->header());
  if (s.ok()) {
    s = ApplyOnce(&replay_, request->header(), response, [&]() -> absl::Status {
      absl::StatusOr<std::string> v =
          store_->CompareSet(request->key(), request->expected(), request->desired());
      if (v.ok()) {
        response->set_swapped(*v == request->desired());
        response->set_value(std::move(*v));
      }
      return v.status();
    });
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* StoreService::Wait(grpc::CallbackServerContext* ctx,
                                             const v1::WaitRequest* request,
                                             v1::WaitResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = fence_->CheckCall(*ctx, request->header());
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  std::vector<std::string> keys(request->keys().begin(), request->keys().end());
  const absl::Time now = absl::Now();
  store_->WatchAsync(std::move(keys), now, DeadlineFromTimeout(now, request->timeout_ms()),
                     [reactor](absl::StatusOr<std::vector<std::string>> values) {
                       reactor->Finish(ToGrpcStatus(values.status()));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* StoreService::Delete(grpc::CallbackServerContext* ctx,
                                               const v1::DeleteRequest* request,
                                               v1::DeleteResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = fence_->CheckCall(*ctx, request->header());
  if (s.ok()) {
    s = ApplyOnce(&replay_, request->header(), response, [&]() -> absl::Status {
      absl::StatusOr<bool> v = store_->Delete(request->key());
      if (v.ok()) response->set_deleted(*v);
      return v.status();
    });
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace rendezvous
}  // namespace fabric
