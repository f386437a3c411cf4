#include "rendezvous/etcd_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "grpcpp/create_channel.h"

namespace fabric {
namespace rendezvous {
namespace {

// etcd's rpctypes.MetadataRequireLeaderKey: a member without a leader refuses the call.
constexpr char kRequireLeader[] = "hasleader";

bool TryNext(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

EtcdKv FromProto(const mvccpb::KeyValue& kv) {
  EtcdKv out;
  out.key = kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.lease = kv.lease();
  return out;
}

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: "\0" as range_end means every key >= key
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(const EtcdOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no endpoint; give --rdzv-endpoint h1:2379,h2:2379");
  }
  for (const std::string& e : options.endpoints) {
    size_t colon = e.rfind(':');
    if (e.empty() || colon == std::string::npos || colon == 0 || colon + 1 == e.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd: endpoint '", e, "' is not host:port (e.g. 10.0.0.1:2379)"));
    }
  }
  std::unique_ptr<EtcdClient> c(new EtcdClient(options));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  // A member that was down (restarted, or not yet up) is dialled again within 0.5 s: the
  // resolver's re-resolution, which gRPC otherwise spaces by tens of seconds, must not hold
  // the reconnect back.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 100);
  for (const std::string& e : options.endpoints) {
    Member m;
    m.address = e;
    m.channel = grpc::CreateCustomChannel(e, ChannelCredentialsFor(options.tls), args);
    m.kv = etcdserverpb::KV::NewStub(m.channel);
    m.lease = etcdserverpb::Lease::NewStub(m.channel);
    m.watch = etcdserverpb::Watch::NewStub(m.channel);
    c->members_.push_back(std::move(m));
  }
  return c;
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {}
EtcdClient::~EtcdClient() = default;

int EtcdClient::preferred() const { return preferred_.load(); }

std::string EtcdClient::endpoint() const { return members_[preferred()].address; }

absl::Status EtcdClient::OnAnyMember(
    const std::string& what,
    const std::function<grpc::Status(Member&, grpc::ClientContext*)>& rpc) {
  const int n = static_cast<int>(members_.size());
  const int first = preferred();
  std::string tried;
  grpc::Status last;
  bool all_late = true;  // every member timed out (slow), none refused (down)
  for (int i = 0; i < n; ++i) {
    Member& m = members_[(first + i) % n];
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    ctx.AddMetadata(kRequireLeader, "true");
    last = rpc(m, &ctx);
    if (last.ok()) {
      preferred_.store((first + i) % n);
      return absl::OkStatus();
    }
    if (!TryNext(last)) return FromGrpcStatus(last);
    all_late = all_late && last.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    absl::StrAppend(&tried, tried.empty() ? "" : ", ", m.address, " (", last.error_message(), ")");
  }
  std::string message = absl::StrCat("etcd: ", what, ": no member answered within ",
                                     absl::FormatDuration(options_.call_timeout), ": ", tried);
  return all_late ? absl::DeadlineExceededError(message) : absl::UnavailableError(message);
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value,
                                        int64_t lease) {
  etcdserverpb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  etcdserverpb::PutResponse resp;
  absl::Status s = OnAnyMember("put " + key, [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->Put(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.header().revision();
}

absl::StatusOr<EtcdClient::Range> EtcdClient::GetPrefix(const std::string& prefix) {
  return GetRange(prefix, PrefixEnd(prefix));
}

absl::StatusOr<EtcdClient::Range> EtcdClient::GetRange(const std::string& key,
                                                       const std::string& range_end,
                                                       bool keys_only) {
  const std::string& prefix = key;
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  req.set_range_end(range_end);
  req.set_keys_only(keys_only);
  req.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
  req.set_sort_target(etcdserverpb::RangeRequest::KEY);
  etcdserverpb::RangeResponse resp;
  absl::Status s = OnAnyMember("range " + prefix, [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->Range(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  Range out;
  out.revision = resp.header().revision();
  for (const mvccpb::KeyValue& kv : resp.kvs()) out.kvs.push_back(FromProto(kv));
  return out;
}

absl::StatusOr<EtcdClient::Last> EtcdClient::LastCreatedBefore(const std::string& prefix,
                                                               int64_t create_revision) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixEnd(prefix));
  req.set_max_create_revision(create_revision - 1);
  req.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
  req.set_sort_target(etcdserverpb::RangeRequest::CREATE);
  req.set_limit(1);
  etcdserverpb::RangeResponse resp;
  absl::Status s = OnAnyMember("range " + prefix, [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->Range(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  Last out;
  out.revision = resp.header().revision();
  if (resp.kvs_size() > 0) out.kv = FromProto(resp.kvs(0));
  return out;
}

absl::StatusOr<std::optional<EtcdKv>> EtcdClient::Get(const std::string& key) {
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  etcdserverpb::RangeResponse resp;
  absl::Status s = OnAnyMember("get " + key, [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->Range(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  if (resp.kvs_size() == 0) return std::optional<EtcdKv>();
  return std::optional<EtcdKv>(FromProto(resp.kvs(0)));
}

absl::StatusOr<int64_t> EtcdClient::DeletePrefix(const std::string& prefix) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixEnd(prefix));
  etcdserverpb::DeleteRangeResponse resp;
  absl::Status s = OnAnyMember("delete " + prefix, [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->DeleteRange(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.deleted();
}

absl::StatusOr<bool> EtcdClient::PutIf(const std::string& key, const std::string& value,
                                       int64_t expected_mod_revision, int64_t lease) {
  etcdserverpb::TxnRequest req;
  etcdserverpb::Compare* c = req.add_compare();
  c->set_key(key);
  c->set_target(etcdserverpb::Compare::MOD);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_mod_revision(expected_mod_revision);  // 0: the key does not exist
  etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  etcdserverpb::TxnResponse resp;
  absl::Status s = OnAnyMember("txn " + key, [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->Txn(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.succeeded();
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(ttl)));
  etcdserverpb::LeaseGrantResponse resp;
  absl::Status s = OnAnyMember("lease grant", [&](Member& m, grpc::ClientContext* ctx) {
    return m.lease->LeaseGrant(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  if (!resp.error().empty()) return absl::InternalError("etcd: lease grant: " + resp.error());
  return resp.id();
}

absl::Status EtcdClient::RevokeLease(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(lease);
  etcdserverpb::LeaseRevokeResponse resp;
  return OnAnyMember("lease revoke", [&](Member& m, grpc::ClientContext* ctx) {
    return m.lease->LeaseRevoke(ctx, req, &resp);
  });
}

absl::StatusOr<absl::Duration> EtcdClient::KeepAliveOnce(int64_t lease) {
  etcdserverpb::LeaseKeepAliveResponse resp;
  absl::Status s = OnAnyMember("lease keep-alive", [&](Member& m, grpc::ClientContext* ctx) {
    auto stream = m.lease->LeaseKeepAlive(ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(lease);
    if (!stream->Write(req) || !stream->Read(&resp)) {
      ctx->TryCancel();
      grpc::Status st = stream->Finish();
      return st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed") : st;
    }
    stream->WritesDone();
    ctx->TryCancel();
    stream->Finish();
    return grpc::Status::OK;
  });
  if (!s.ok()) return s;
  if (resp.ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd: lease ", lease, " has expired"));
  }
  return absl::Seconds(resp.ttl());
}

std::unique_ptr<EtcdWatch> EtcdClient::Watch(const std::string& prefix, int64_t from_revision,
                                             std::function<void(const EtcdWatchBatch&)> on_batch,
                                             std::function<void(const absl::Status&)> on_error,
                                             absl::Duration give_up_after) {
  return WatchRange(prefix, PrefixEnd(prefix), from_revision, std::move(on_batch),
                    std::move(on_error), give_up_after);
}

std::unique_ptr<EtcdWatch> EtcdClient::WatchRange(
    const std::string& key, const std::string& range_end, int64_t from_revision,
    std::function<void(const EtcdWatchBatch&)> on_batch,
    std::function<void(const absl::Status&)> on_error, absl::Duration give_up_after) {
  std::unique_ptr<EtcdWatch> w(new EtcdWatch());
  w->client_ = this;
  w->prefix_ = key;
  w->range_end_ = range_end;
  w->next_revision_ = from_revision;
  w->give_up_after_ = give_up_after;
  w->on_batch_ = std::move(on_batch);
  w->on_error_ = std::move(on_error);
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

EtcdWatch::~EtcdWatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

// One stream at a time, on the members in turn; each stream resumes from next_revision_.
void EtcdWatch::Run() {
  const int n = static_cast<int>(client_->members_.size());
  int member = client_->preferred();
  absl::Time failing_since = absl::InfiniteFuture();  // no member has answered since
  std::string last_error;
  while (true) {
    grpc::ClientContext ctx;
    ctx.AddMetadata(kRequireLeader, "true");
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      context_ = &ctx;
    }
    auto stream = client_->members_[member].watch->Watch(&ctx);
    etcdserverpb::WatchRequest req;
    etcdserverpb::WatchCreateRequest* create = req.mutable_create_request();
    create->set_key(prefix_);
    create->set_range_end(range_end_);
    create->set_start_revision(next_revision_);
    etcdserverpb::WatchResponse resp;
    absl::Status fatal;
    if (stream->Write(req)) {
      while (stream->Read(&resp)) {
        failing_since = absl::InfiniteFuture();
        if (resp.compact_revision() > 0) {
          fatal = absl::DataLossError(absl::StrCat("etcd: watch of ", prefix_, " from revision ",
                                                   next_revision_, ": compacted up to ",
                                                   resp.compact_revision()));
          break;
        }
        if (resp.canceled()) break;             // e.g. the member lost its leader: try another
        if (resp.events_size() == 0) continue;  // the created notice, progress
        EtcdWatchBatch batch;
        batch.revision = resp.header().revision();
        for (const mvccpb::Event& e : resp.events()) {
          EtcdEvent ev;
          ev.type =
              e.type() == mvccpb::Event::DELETE ? EtcdEvent::Type::kDelete : EtcdEvent::Type::kPut;
          ev.kv = FromProto(e.kv());
          next_revision_ = std::max(next_revision_, e.kv().mod_revision() + 1);
          batch.events.push_back(std::move(ev));
        }
        on_batch_(batch);
      }
    }
    ctx.TryCancel();
    grpc::Status st = stream->Finish();
    last_error = st.error_message();
    {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
      if (stopping_) return;
    }
    if (!fatal.ok()) {
      on_error_(fatal);
      return;
    }
    if (failing_since == absl::InfiniteFuture()) failing_since = absl::Now();
    if (absl::Now() - failing_since > give_up_after_) {
      on_error_(absl::UnavailableError(
          absl::StrCat("etcd: watch of ", prefix_, ": no member answered for ",
                       absl::FormatDuration(give_up_after_), " (last: ", last_error, ")")));
      return;
    }
    member = (member + 1) % n;
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(100));
  }
}

}  // namespace rendezvous
}  // namespace fabric
