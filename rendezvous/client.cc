#include "rendezvous/client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "rendezvous/convert.h"

namespace fabric {
namespace rendezvous {

namespace v1 = ::fabric::v1;

absl::StatusOr<std::unique_ptr<RendezvousClient>> RendezvousClient::Connect(
    const ClientOptions& options) {
  if (options.server_address.empty()) {
    return absl::InvalidArgumentError("rendezvous client: empty server address");
  }
  if (options.node_id.empty() || options.run_id.empty()) {
    return absl::InvalidArgumentError("rendezvous client: run id and node id must be set");
  }
  grpc::ChannelArguments args;
  // Reconnect quickly while the server is still starting (gRPC's default backoff
  // starts at 1 s and grows to 120 s). Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also
  // uses it as the connect timeout, and a small one aborts connects on a busy host.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto channel =
      grpc::CreateCustomChannel(options.server_address, ChannelCredentialsFor(options.tls), args);
  std::unique_ptr<RendezvousClient> client(new RendezvousClient(options, std::move(channel)));
  absl::Status s = client->OpenSession(absl::Now() + options.join_timeout);
  if (!s.ok()) return s;
  client->reader_ = std::thread([c = client.get()] { c->ReaderLoop(); });
  client->keepalive_ = std::thread([c = client.get()] { c->KeepAliveLoop(); });
  return client;
}

RendezvousClient::RendezvousClient(const ClientOptions& options,
                                   std::shared_ptr<grpc::Channel> channel)
    : options_(options), channel_(std::move(channel)), stub_(v1::Rendezvous::NewStub(channel_)) {}

RendezvousClient::~RendezvousClient() { Close(); }

void RendezvousClient::FillHeader(v1::Header* header, int64_t round) {
  header->set_run_id(options_.run_id);
  header->set_node_id(options_.node_id);
  header->set_round(round);
  header->set_protocol_version(kProtocolVersion);
  header->set_request_id(NewRequestId());
}

RetryPolicy RendezvousClient::ShortPolicy() const {
  RetryPolicy p;
  p.deadline = absl::Now() + options_.rpc_timeout;
  p.attempt_timeout = options_.rpc_timeout;
  p.token = options_.token;
  p.faults = options_.faults;
  return p;
}

absl::Status RendezvousClient::OpenSession(absl::Time deadline) {
  absl::Duration backoff = absl::Milliseconds(10);
  absl::Status last;
  int attempts = 0;
  while (true) {
    ++attempts;
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!options_.token.empty()) ctx->AddMetadata(kTokenMetadataKey, options_.token);
    auto stream = stub_->Session(ctx.get());
    v1::SessionRequest hello;
    FillHeader(hello.mutable_header(), 0);
    hello.set_hello(true);
    v1::Event first;
    if (stream->Write(hello) && stream->Read(&first)) {
      keepalive_interval_ = options_.keepalive_interval > absl::ZeroDuration()
                                ? options_.keepalive_interval
                                : absl::Milliseconds(std::max(10, first.keepalive_interval_ms()));
      session_ctx_ = std::move(ctx);
      session_ = std::move(stream);
      if (first.type() != v1::Event::SESSION_OPENED) Dispatch(FromProto(first));
      return absl::OkStatus();
    }
    last = FromGrpcStatus(stream->Finish());
    if (last.code() != absl::StatusCode::kUnavailable) return last;
    if (absl::Now() + backoff >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "could not reach the rendezvous server at ", options_.server_address, " within ",
          absl::FormatDuration(options_.join_timeout), " (", attempts,
          " attempts); is the node-rank-0 agent or fabric-rendezvous running there? last "
          "error: ",
          last.message()));
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
}

void RendezvousClient::ReaderLoop() {
  v1::Event ev;
  while (session_->Read(&ev)) {
    if (ev.type() == v1::Event::SESSION_OPENED) continue;
    Dispatch(FromProto(ev));
  }
  absl::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    status = FromGrpcStatus(session_->Finish());
    session_done_ = true;
  }
  bool closed;
  {
    absl::MutexLock lock(&mu_);
    closed = closed_;
  }
  if (!closed) {
    Event lost;
    lost.type = EventType::kConnectionLost;
    lost.reason = absl::StrCat("lost the session with the rendezvous server at ",
                               options_.server_address, ": ", status.ToString());
    Dispatch(lost);
  }
}

void RendezvousClient::KeepAliveLoop() {
  absl::MutexLock lock(&mu_);
  while (!closed_) {
    mu_.AwaitWithTimeout(absl::Condition(&closed_), keepalive_interval_);
    if (closed_) break;
    v1::SessionRequest ka;
    FillHeader(ka.mutable_header(), round_);
    ka.mutable_header()->clear_request_id();
    if (!node_status_sent_) {
      ka.set_node_status(node_status_);
      node_status_sent_ = true;
    }
    mu_.Unlock();
    {
      absl::MutexLock wlock(&write_mu_);
      if (!session_done_) session_->Write(ka);
    }
    mu_.Lock();
  }
}

void RendezvousClient::Dispatch(const Event& event) {
  std::function<void(const Event&)> cb;
  {
    absl::MutexLock lock(&mu_);
    if (callback_) {
      cb = callback_;
    } else {
      events_.push_back(event);
    }
  }
  if (cb) cb(event);
}

void RendezvousClient::SetEventCallback(std::function<void(const Event&)> callback) {
  std::deque<Event> queued;
  {
    absl::MutexLock lock(&mu_);
    callback_ = callback;
    if (callback_) queued.swap(events_);
  }
  for (const Event& e : queued) callback(e);
}

absl::StatusOr<Event> RendezvousClient::NextEvent(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty(); };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (events_.empty())
    return absl::DeadlineExceededError("no rendezvous event before the deadline");
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

int64_t RendezvousClient::round() {
  absl::MutexLock lock(&mu_);
  return round_;
}

absl::StatusOr<Assignment> RendezvousClient::Join() { return Join(options_.master_port); }

absl::StatusOr<Assignment> RendezvousClient::Join(int master_port) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("rendezvous client is closed");
  }
  v1::JoinRequest req;
  JoinRequest j;
  j.run_id = options_.run_id;
  j.node_id = options_.node_id;
  j.local_world_size = options_.local_world_size;
  j.address = options_.advertised_address;
  j.requested_node_rank = options_.requested_node_rank;
  j.master_port = master_port;
  j.min_nodes = options_.min_nodes;
  j.max_nodes = options_.max_nodes;
  j.max_restarts = options_.max_restarts;
  ToProto(j, &req);
  FillHeader(req.mutable_header(), round());
  const absl::Time deadline = absl::Now() + options_.join_timeout;
  RetryPolicy p;
  p.deadline = deadline;
  p.attempt_timeout = absl::InfiniteDuration();
  p.token = options_.token;
  p.faults = options_.faults;
  v1::JoinResponse resp;
  absl::Status s = CallWithRetry(
      "rendezvous join", p, [&](grpc::ClientContext* ctx) { return stub_->Join(ctx, req, &resp); });
  if (s.code() == absl::StatusCode::kDeadlineExceeded && absl::Now() >= deadline) {
    std::string detail;
    absl::StatusOr<RunStatus> st = GetStatus();
    if (st.ok()) {
      detail = absl::StrCat(": ", st->waiting.size(), "/", st->min_nodes,
                            " nodes waiting for round ", st->round, " (min_nodes=", st->min_nodes,
                            ", max_nodes=", st->max_nodes, ")");
    }
    return absl::DeadlineExceededError(
        absl::StrCat("rendezvous at ", options_.server_address, " did not complete within ",
                     absl::FormatDuration(options_.join_timeout), detail));
  }
  if (!s.ok()) return s;
  Assignment a = FromProto(resp.assignment());
  absl::MutexLock lock(&mu_);
  round_ = a.round;
  return a;
}

absl::StatusOr<FailureReportResult> RendezvousClient::ReportWorkerFailure(
    int64_t round, const WorkerFailure& failure) {
  v1::ReportFailureRequest req;
  FillHeader(req.mutable_header(), round);
  ToProto(failure, req.mutable_failure());
  req.mutable_failure()->set_node_id(options_.node_id);
  v1::ReportFailureResponse resp;
  absl::Status s = CallWithRetry(
      "report worker failure", ShortPolicy(),
      [&](grpc::ClientContext* ctx) { return stub_->ReportFailure(ctx, req, &resp); });
  if (!s.ok()) return s;
  FailureReportResult r;
  r.round = resp.header().round();
  r.run_failed = resp.run_failed();
  r.restarts_left = resp.restarts_left();
  return r;
}

absl::StatusOr<bool> RendezvousClient::ReportSuccess(int64_t round) {
  v1::ReportSuccessRequest req;
  FillHeader(req.mutable_header(), round);
  v1::ReportSuccessResponse resp;
  absl::Status s = CallWithRetry("report success", ShortPolicy(), [&](grpc::ClientContext* ctx) {
    return stub_->ReportSuccess(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.run_succeeded();
}

absl::Status RendezvousClient::Leave(const std::string& reason) {
  v1::LeaveRequest req;
  FillHeader(req.mutable_header(), round());
  req.set_reason(reason);
  return CallWithRetry("leave", ShortPolicy(), [&](grpc::ClientContext* ctx) {
    v1::LeaveResponse resp;
    return stub_->Leave(ctx, req, &resp);
  });
}

void RendezvousClient::SetNodeStatus(std::string status) {
  absl::MutexLock lock(&mu_);
  if (status == node_status_) return;
  node_status_ = std::move(status);
  node_status_sent_ = false;
}

absl::StatusOr<RunStatus> RendezvousClient::GetStatus(bool with_node_status) {
  v1::StatusRequest req;
  FillHeader(req.mutable_header(), 0);
  req.set_with_node_status(with_node_status);
  v1::StatusResponse resp;
  RetryPolicy p = ShortPolicy();
  p.faults = nullptr;
  absl::Status s = CallWithRetry(
      "status", p, [&](grpc::ClientContext* ctx) { return stub_->Status(ctx, req, &resp); });
  if (!s.ok()) return s;
  return FromProto(resp);
}

void RendezvousClient::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (session_ctx_ != nullptr) session_ctx_->TryCancel();
  if (reader_.joinable()) reader_.join();
  if (keepalive_.joinable()) keepalive_.join();
}

}  // namespace rendezvous
}  // namespace fabric
