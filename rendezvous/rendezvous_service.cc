#include "rendezvous/rendezvous_service.h"

#include <atomic>
#include <deque>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "rendezvous/convert.h"

namespace fabric {
namespace rendezvous {

namespace v1 = ::fabric::v1;

// A long-polling Join: finished by whoever removes it from pending_joins_ (the round
// completing, a newer Join of the same node, cancellation, shutdown).
class RendezvousService::JoinReactor final : public grpc::ServerUnaryReactor {
 public:
  JoinReactor(RendezvousService* service, std::string node_id, std::string replay_key,
              v1::JoinResponse* response)
      : service_(service),
        node_id_(std::move(node_id)),
        replay_key_(std::move(replay_key)),
        response_(response) {}

  const std::string& node_id() const { return node_id_; }

  void Complete(const absl::StatusOr<Assignment>& result, const std::string& run_id) {
    response_->mutable_header()->set_run_id(run_id);
    response_->mutable_header()->set_node_id(node_id_);
    response_->mutable_header()->set_protocol_version(kProtocolVersion);
    if (result.ok()) {
      response_->mutable_header()->set_round(result->round);
      ToProto(*result, response_->mutable_assignment());
    }
    // Only a delivered assignment is replayed; an error is re-evaluated on retry.
    if (result.ok()) {
      service_->replay_.Insert(replay_key_, {absl::OkStatus(), response_->SerializeAsString()});
    }
    Finish(ToGrpcStatus(result.status()));
  }

  void OnCancel() override { service_->OnJoinCancelled(this); }
  void OnDone() override { delete this; }

 private:
  RendezvousService* const service_;
  const std::string node_id_;
  const std::string replay_key_;
  v1::JoinResponse* const response_;
};

// One agent's session: keep-alives in, events out. Writes are queued (one in flight).
class RendezvousService::SessionReactor final
    : public grpc::ServerBidiReactor<v1::SessionRequest, v1::Event> {
 public:
  SessionReactor(RendezvousService* service, grpc::CallbackServerContext* ctx)
      : service_(service), auth_(service->auth_.Check(*ctx)) {
    StartRead(&request_);
  }

  const std::string& node_id() const { return node_id_; }

  void Push(const v1::Event& event) {
    const v1::Event* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      queue_.push_back(event);
      if (writing_) return;
      writing_ = true;
      next = &queue_.front();
    }
    StartWrite(next);
  }

  // Finishes the stream once queued writes are done.
  void FinishWith(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      finishing_ = true;
      status_ = status;
      if (writing_) return;
      finished_ = true;
    }
    Finish(ToGrpcStatus(status));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the agent closed its side, or the connection broke
      Closed();
      FinishWith(absl::OkStatus());
      return;
    }
    if (!opened_) {
      absl::Status s = auth_;
      if (s.ok()) s = CheckVersion(request_.header());
      if (s.ok()) {
        node_id_ = request_.header().node_id();
        s = service_->OnSessionHello(this, request_.header());
      }
      if (!s.ok()) {
        FinishWith(s);
        return;
      }
      opened_ = true;
    } else {
      service_->OnKeepAlive(node_id_, session_id_);
    }
    if (!request_.node_status().empty()) service_->SetNodeStatus(node_id_, request_.node_status());
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const v1::Event* next = nullptr;
    absl::Status finish;
    bool do_finish = false;
    {
      absl::MutexLock lock(&mu_);
      queue_.pop_front();
      if (!ok) queue_.clear();
      if (!queue_.empty() && !finishing_) {
        next = &queue_.front();
      } else {
        writing_ = false;
        if (finishing_ && !finished_) {
          finished_ = true;
          do_finish = true;
          finish = status_;
        }
      }
    }
    if (next != nullptr) StartWrite(next);
    if (do_finish) Finish(ToGrpcStatus(finish));
  }

  void OnCancel() override {
    Closed();
    FinishWith(absl::CancelledError("session cancelled"));
  }

  void OnDone() override {
    service_->UnregisterSession(this);
    delete this;
  }

  int64_t session_id_ = 0;  // set by OnSessionHello before any keep-alive is read

 private:
  void Closed() {
    if (opened_ && !closed_.exchange(true)) service_->OnSessionClosed(node_id_, session_id_);
  }

  RendezvousService* const service_;
  const absl::Status auth_;
  v1::SessionRequest request_;
  std::string node_id_;
  std::atomic<bool> opened_{false};
  std::atomic<bool> closed_{false};

  absl::Mutex mu_;
  std::deque<v1::Event> queue_ ABSL_GUARDED_BY(mu_);  // front = in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

RendezvousService::RendezvousService(const ServiceOptions& options, Clock* clock)
    : options_(options), clock_(clock), auth_(options.auth), state_(options.state) {}

RendezvousService::~RendezvousService() = default;

std::string RendezvousService::RunId() { return state_.run_id(); }

void RendezvousService::TakeJoinsLocked(std::vector<Effect>* effects,
                                        std::vector<JoinCompletion>* joins) {
  std::vector<Effect> rest;
  for (Effect& e : *effects) {
    if (e.kind != Effect::Kind::kCompleteJoin) {
      rest.push_back(std::move(e));
      continue;
    }
    auto it = pending_joins_.find(e.node_id);
    if (it == pending_joins_.end()) continue;  // caller gone; a retry replays or re-joins
    joins->emplace_back(it->second, std::move(e.join_result));
    pending_joins_.erase(it);
  }
  *effects = std::move(rest);
}

void RendezvousService::Deliver(std::vector<JoinCompletion> joins,
                                const std::vector<Effect>& effects) {
  std::string run_id;
  {
    absl::MutexLock lock(&mu_);
    run_id = RunId();
  }
  for (auto& [reactor, result] : joins) reactor->Complete(result, run_id);
  for (const Effect& e : effects) {
    if (e.kind != Effect::Kind::kPushEvent) continue;
    v1::Event event;
    ToProto(e.event, run_id, &event);
    event.mutable_header()->set_node_id(e.node_id);
    PushTo(e.node_id, event);
  }
}

void RendezvousService::PushTo(const std::string& node_id, const v1::Event& event) {
  absl::MutexLock lock(&sessions_mu_);  // keeps the reactor alive (OnDone unregisters)
  auto it = sessions_.find(node_id);
  if (it != sessions_.end()) it->second->Push(event);
}

grpc::ServerUnaryReactor* RendezvousService::Join(grpc::CallbackServerContext* ctx,
                                                  const v1::JoinRequest* request,
                                                  v1::JoinResponse* response) {
  const std::string key = ReplayCache::Key(request->header());
  auto* reactor = new JoinReactor(this, request->header().node_id(), key, response);
  absl::Status s = auth_.Check(*ctx);
  if (s.ok()) s = CheckVersion(request->header());
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  if (auto hit = replay_.Lookup(key)) {
    response->ParseFromString(hit->response);
    reactor->Finish(ToGrpcStatus(hit->status));
    return reactor;
  }
  std::vector<Effect> effects;
  std::vector<JoinCompletion> joins;
  JoinReactor* superseded = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      s = absl::UnavailableError("the rendezvous server is shutting down");
    } else {
      s = state_.Join(FromProto(*request), clock_->TimeNow(), &effects);
    }
    if (s.ok()) {
      auto it = pending_joins_.find(reactor->node_id());
      if (it != pending_joins_.end()) superseded = it->second;
      pending_joins_[reactor->node_id()] = reactor;
      TakeJoinsLocked(&effects, &joins);
    }
  }
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  if (superseded != nullptr) {
    superseded->Finish(
        ToGrpcStatus(absl::AbortedError("superseded by a newer Join from the same node")));
  }
  Deliver(std::move(joins), effects);
  return reactor;
}

void RendezvousService::OnJoinCancelled(JoinReactor* reactor) {
  std::vector<Effect> effects;
  std::vector<JoinCompletion> joins;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_joins_.find(reactor->node_id());
    if (it == pending_joins_.end() || it->second != reactor) return;  // someone else owns it
    pending_joins_.erase(it);
    state_.WithdrawJoin(reactor->node_id(), clock_->TimeNow(), &effects);
    TakeJoinsLocked(&effects, &joins);
  }
  reactor->Finish(ToGrpcStatus(absl::CancelledError("join cancelled by the caller")));
  Deliver(std::move(joins), effects);
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::Event>* RendezvousService::Session(
    grpc::CallbackServerContext* ctx) {
  return new SessionReactor(this, ctx);
}

absl::Status RendezvousService::OnSessionHello(SessionReactor* session, const v1::Header& header) {
  std::vector<Effect> effects;
  std::vector<JoinCompletion> joins;
  v1::Event opened;
  opened.mutable_header()->set_run_id(header.run_id());
  opened.mutable_header()->set_node_id(header.node_id());
  opened.mutable_header()->set_protocol_version(kProtocolVersion);
  opened.set_type(v1::Event::SESSION_OPENED);
  opened.set_keepalive_interval_ms(
      static_cast<int32_t>(absl::ToInt64Milliseconds(options_.keepalive_interval)));
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the rendezvous server is shutting down");
    absl::StatusOr<int64_t> sid =
        state_.OpenSession(header.run_id(), header.node_id(), clock_->TimeNow(), &effects);
    if (!sid.ok()) return sid.status();
    session->session_id_ = *sid;
    TakeJoinsLocked(&effects, &joins);
    // The stream is this node's before mu_ is released: an event the state pushes to the
    // node from now on (another call's round change) finds it, after SESSION_OPENED.
    session->Push(opened);
    absl::MutexLock sessions_lock(&sessions_mu_);
    auto it = sessions_.find(header.node_id());
    SessionReactor* replaced = it != sessions_.end() ? it->second : nullptr;
    sessions_[header.node_id()] = session;
    // The old stream of this node is superseded; end it (its close is ignored by the
    // state, whose session id moved on).
    if (replaced != nullptr) replaced->FinishWith(absl::AbortedError("superseded session"));
  }
  Deliver(std::move(joins), effects);
  return absl::OkStatus();
}

void RendezvousService::OnKeepAlive(const std::string& node_id, int64_t session_id) {
  absl::MutexLock lock(&mu_);
  state_.KeepAlive(node_id, session_id, clock_->TimeNow());
}

void RendezvousService::SetNodeStatus(const std::string& node_id, const std::string& status) {
  if (status.size() > kMaxNodeStatusBytes) return;
  absl::MutexLock lock(&status_mu_);
  node_status_[node_id] = status;
}

void RendezvousService::OnSessionClosed(const std::string& node_id, int64_t session_id) {
  {
    absl::MutexLock lock(&status_mu_);
    node_status_.erase(node_id);
  }
  std::vector<Effect> effects;
  std::vector<JoinCompletion> joins;
  {
    absl::MutexLock lock(&mu_);
    state_.CloseSession(node_id, session_id, clock_->TimeNow(), &effects);
    TakeJoinsLocked(&effects, &joins);
  }
  Deliver(std::move(joins), effects);
}

void RendezvousService::UnregisterSession(SessionReactor* session) {
  absl::MutexLock lock(&sessions_mu_);
  auto it = sessions_.find(session->node_id());
  if (it != sessions_.end() && it->second == session) sessions_.erase(it);
}

grpc::ServerUnaryReactor* RendezvousService::MutatingCall(grpc::CallbackServerContext* ctx,
                                                          const v1::Header& header,
                                                          google::protobuf::MessageLite* response,
                                                          bool replayable, const MutateFn& mutate) {
  auto* reactor = ctx->DefaultReactor();
  const std::string key = replayable ? ReplayCache::Key(header) : "";
  absl::Status s = auth_.Check(*ctx);
  if (s.ok()) s = CheckVersion(header);
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  if (auto hit = replay_.Lookup(key)) {
    response->ParseFromString(hit->response);
    reactor->Finish(ToGrpcStatus(hit->status));
    return reactor;
  }
  std::vector<Effect> effects;
  std::vector<JoinCompletion> joins;
  {
    absl::MutexLock lock(&mu_);
    s = state_.CheckFence(header.run_id(), 0);
    if (s.ok()) s = mutate(&effects);
    TakeJoinsLocked(&effects, &joins);
  }
  replay_.Insert(key, {s, response->SerializeAsString()});
  reactor->Finish(ToGrpcStatus(s));
  Deliver(std::move(joins), effects);
  return reactor;
}

grpc::ServerUnaryReactor* RendezvousService::ReportFailure(grpc::CallbackServerContext* ctx,
                                                           const v1::ReportFailureRequest* request,
                                                           v1::ReportFailureResponse* response) {
  const v1::Header& h = request->header();
  return MutatingCall(ctx, h, response, /*replayable=*/true,
                      [&](std::vector<Effect>* effects) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                        WorkerFailure failure = FromProto(request->failure());
                        failure.node_id = h.node_id();
                        absl::StatusOr<FailureReportResult> r = state_.ReportFailure(
                            h.node_id(), h.round(), failure, clock_->TimeNow(), effects);
                        if (r.ok()) {
                          response->mutable_header()->set_round(r->round);
                          response->set_run_failed(r->run_failed);
                          response->set_restarts_left(r->restarts_left);
                        }
                        response->mutable_header()->set_run_id(RunId());
                        response->mutable_header()->set_protocol_version(kProtocolVersion);
                        return r.status();
                      });
}

grpc::ServerUnaryReactor* RendezvousService::ReportSuccess(grpc::CallbackServerContext* ctx,
                                                           const v1::ReportSuccessRequest* request,
                                                           v1::ReportSuccessResponse* response) {
  const v1::Header& h = request->header();
  // Naturally idempotent: success is a set membership.
  return MutatingCall(ctx, h, response, /*replayable=*/false,
                      [&](std::vector<Effect>* effects) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                        absl::StatusOr<bool> r = state_.ReportSuccess(h.node_id(), h.round(),
                                                                      clock_->TimeNow(), effects);
                        if (r.ok()) response->set_run_succeeded(*r);
                        response->mutable_header()->set_run_id(RunId());
                        response->mutable_header()->set_round(state_.round());
                        return r.status();
                      });
}

grpc::ServerUnaryReactor* RendezvousService::Leave(grpc::CallbackServerContext* ctx,
                                                   const v1::LeaveRequest* request,
                                                   v1::LeaveResponse* response) {
  const v1::Header& h = request->header();
  // Naturally idempotent: leaving twice finds the node gone.
  return MutatingCall(
      ctx, h, response, /*replayable=*/false,
      [&](std::vector<Effect>* effects) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        state_.Leave(h.node_id(), request->reason(), clock_->TimeNow(), effects);
        if (pending_joins_.count(h.node_id()) != 0) {
          effects->push_back(Effect{
              Effect::Kind::kCompleteJoin, h.node_id(), absl::CancelledError("the node left"), {}});
        }
        response->mutable_header()->set_round(state_.round());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RendezvousService::Status(grpc::CallbackServerContext* ctx,
                                                    const v1::StatusRequest* request,
                                                    v1::StatusResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = auth_.Check(*ctx);
  if (s.ok()) s = CheckVersion(request->header());
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    if (!request->header().run_id().empty()) s = state_.CheckFence(request->header().run_id(), 0);
    if (s.ok()) ToProto(state_.Status(), response);
  }
  if (s.ok() && request->with_node_status()) {
    absl::MutexLock lock(&status_mu_);
    for (const auto& [node, status] : node_status_) response->add_node_status(status);
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

void RendezvousService::Tick() {
  std::vector<Effect> effects;
  std::vector<JoinCompletion> joins;
  {
    absl::MutexLock lock(&mu_);
    state_.Tick(clock_->TimeNow(), &effects);
    TakeJoinsLocked(&effects, &joins);
  }
  if (!joins.empty() || !effects.empty()) Deliver(std::move(joins), effects);
}

RunStatus RendezvousService::GetRunStatus() {
  absl::MutexLock lock(&mu_);
  return state_.Status();
}

std::vector<std::string> RendezvousService::ConnectedNodes() {
  absl::MutexLock lock(&mu_);
  return state_.ConnectedNodes();
}

void RendezvousService::Shutdown() {
  std::vector<JoinReactor*> joins;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [id, r] : pending_joins_) joins.push_back(r);
    pending_joins_.clear();
  }
  for (JoinReactor* r : joins) {
    r->Finish(ToGrpcStatus(absl::UnavailableError("the rendezvous server is shutting down")));
  }
  absl::MutexLock lock(&sessions_mu_);
  for (auto& [id, s] : sessions_) {
    s->FinishWith(absl::UnavailableError("the rendezvous server is shutting down"));
  }
}

}  // namespace rendezvous
}  // namespace fabric
