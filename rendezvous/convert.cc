#include "rendezvous/convert.h"

namespace fabric {
namespace rendezvous {

void ToProto(const Member& in, fabric::v1::Member* out) {
  out->set_node_id(in.node_id);
  out->set_node_rank(in.node_rank);
  out->set_address(in.address);
  out->set_local_world_size(in.local_world_size);
  out->set_global_rank_base(in.global_rank_base);
}

Member FromProto(const fabric::v1::Member& in) {
  return Member{in.node_id(), in.node_rank(), in.address(), in.local_world_size(),
                in.global_rank_base()};
}

void ToProto(const Assignment& in, fabric::v1::Assignment* out) {
  out->set_round(in.round);
  out->set_node_rank(in.node_rank);
  out->set_num_nodes(in.num_nodes);
  out->set_global_rank_base(in.global_rank_base);
  out->set_world_size(in.world_size);
  out->set_local_world_size(in.local_world_size);
  out->set_master_addr(in.master_addr);
  out->set_master_port(in.master_port);
  out->set_restart_count(in.restart_count);
  out->set_max_restarts(in.max_restarts);
  for (const Member& m : in.members) ToProto(m, out->add_members());
}

Assignment FromProto(const fabric::v1::Assignment& in) {
  Assignment a;
  a.round = in.round();
  a.node_rank = in.node_rank();
  a.num_nodes = in.num_nodes();
  a.global_rank_base = in.global_rank_base();
  a.world_size = in.world_size();
  a.local_world_size = in.local_world_size();
  a.master_addr = in.master_addr();
  a.master_port = in.master_port();
  a.restart_count = in.restart_count();
  a.max_restarts = in.max_restarts();
  for (const auto& m : in.members()) a.members.push_back(FromProto(m));
  return a;
}

void ToProto(const WorkerFailure& in, fabric::v1::WorkerFailure* out) {
  out->set_node_id(in.node_id);
  out->set_node_rank(in.node_rank);
  out->set_global_rank(in.global_rank);
  out->set_local_rank(in.local_rank);
  out->set_exit_code(in.exit_code);
  out->set_signal(in.signal);
  out->set_message(in.message);
  out->set_stderr_tail(in.stderr_tail);
}

WorkerFailure FromProto(const fabric::v1::WorkerFailure& in) {
  WorkerFailure f;
  f.node_id = in.node_id();
  f.node_rank = in.node_rank();
  f.global_rank = in.global_rank();
  f.local_rank = in.local_rank();
  f.exit_code = in.exit_code();
  f.signal = in.signal();
  f.message = in.message();
  f.stderr_tail = in.stderr_tail();
  return f;
}

namespace {

fabric::v1::Event::Type ToProtoType(EventType t) {
  switch (t) {
    case EventType::kSessionOpened: return fabric::v1::Event::SESSION_OPENED;
    case EventType::kRoundChanged: return fabric::v1::Event::ROUND_CHANGED;
    case EventType::kRunFailed: return fabric::v1::Event::RUN_FAILED;
    case EventType::kRunSucceeded: return fabric::v1::Event::RUN_SUCCEEDED;
    case EventType::kStandby: return fabric::v1::Event::STANDBY;
    case EventType::kConnectionLost: break;
  }
  return fabric::v1::Event::TYPE_UNSPECIFIED;
}

EventType FromProtoType(fabric::v1::Event::Type t) {
  switch (t) {
    case fabric::v1::Event::SESSION_OPENED: return EventType::kSessionOpened;
    case fabric::v1::Event::ROUND_CHANGED: return EventType::kRoundChanged;
    case fabric::v1::Event::RUN_FAILED: return EventType::kRunFailed;
    case fabric::v1::Event::RUN_SUCCEEDED: return EventType::kRunSucceeded;
    case fabric::v1::Event::STANDBY: return EventType::kStandby;
    default: break;
  }
  return EventType::kConnectionLost;
}

}  // namespace

void ToProto(const Event& in, const std::string& run_id, fabric::v1::Event* out) {
  out->mutable_header()->set_run_id(run_id);
  out->mutable_header()->set_round(in.round);
  out->mutable_header()->set_protocol_version(kProtocolVersion);
  out->set_type(ToProtoType(in.type));
  out->set_reason(in.reason);
  if (in.has_root_cause) ToProto(in.root_cause, out->mutable_root_cause());
  out->set_keepalive_interval_ms(in.keepalive_interval_ms);
  out->set_restart_count(in.restart_count);
}

Event FromProto(const fabric::v1::Event& in) {
  Event e;
  e.type = FromProtoType(in.type());
  e.round = in.header().round();
  e.reason = in.reason();
  e.has_root_cause = in.has_root_cause();
  if (e.has_root_cause) e.root_cause = FromProto(in.root_cause());
  e.keepalive_interval_ms = in.keepalive_interval_ms();
  e.restart_count = in.restart_count();
  return e;
}

void ToProto(const RunStatus& in, fabric::v1::StatusResponse* out) {
  out->mutable_header()->set_run_id(in.run_id);
  out->mutable_header()->set_round(in.round);
  out->mutable_header()->set_protocol_version(kProtocolVersion);
  out->set_phase(PhaseName(in.phase));
  for (const Member& m : in.members) ToProto(m, out->add_members());
  for (const std::string& w : in.waiting) out->add_waiting(w);
  out->set_restart_count(in.restart_count);
  out->set_max_restarts(in.max_restarts);
  out->set_min_nodes(in.min_nodes);
  out->set_max_nodes(in.max_nodes);
  out->set_failure_reason(in.failure_reason);
  if (in.has_root_cause) ToProto(in.root_cause, out->mutable_root_cause());
  for (const std::string& n : in.node_status) out->add_node_status(n);
}

RunStatus FromProto(const fabric::v1::StatusResponse& in) {
  RunStatus s;
  s.run_id = in.header().run_id();
  s.round = in.header().round();
  for (Phase p : {Phase::kForming, Phase::kRunning, Phase::kFailed, Phase::kSucceeded}) {
    if (in.phase() == PhaseName(p)) s.phase = p;
  }
  for (const auto& m : in.members()) s.members.push_back(FromProto(m));
  for (const auto& w : in.waiting()) s.waiting.push_back(w);
  s.restart_count = in.restart_count();
  s.max_restarts = in.max_restarts();
  s.min_nodes = in.min_nodes();
  s.max_nodes = in.max_nodes();
  s.failure_reason = in.failure_reason();
  s.has_root_cause = in.has_root_cause();
  if (s.has_root_cause) s.root_cause = FromProto(in.root_cause());
  for (const std::string& n : in.node_status()) s.node_status.push_back(n);
  return s;
}

JoinRequest FromProto(const fabric::v1::JoinRequest& in) {
  JoinRequest r;
  r.run_id = in.header().run_id();
  r.node_id = in.header().node_id();
  r.protocol_version = in.header().protocol_version();
  r.local_world_size = in.local_world_size();
  r.address = in.address();
  r.requested_node_rank = in.requested_node_rank();
  r.master_port = in.master_port();
  r.min_nodes = in.min_nodes();
  r.max_nodes = in.max_nodes();
  r.max_restarts = in.max_restarts();
  return r;
}

void ToProto(const JoinRequest& in, fabric::v1::JoinRequest* out) {
  out->mutable_header()->set_run_id(in.run_id);
  out->mutable_header()->set_node_id(in.node_id);
  out->mutable_header()->set_protocol_version(in.protocol_version);
  out->set_local_world_size(in.local_world_size);
  out->set_address(in.address);
  out->set_requested_node_rank(in.requested_node_rank);
  out->set_master_port(in.master_port);
  out->set_min_nodes(in.min_nodes);
  out->set_max_nodes(in.max_nodes);
  out->set_max_restarts(in.max_restarts);
}

}  // namespace rendezvous
}  // namespace fabric
