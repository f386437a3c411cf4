// Conversions between the protocol's plain structs (types.h) and fabric.v1 messages.
// Pure functions; used by the gRPC service adapter and the client.
#ifndef FABRIC_RENDEZVOUS_CONVERT_H_
#define FABRIC_RENDEZVOUS_CONVERT_H_

#include "proto/job.pb.h"
#include "proto/rendezvous.pb.h"
#include "rendezvous/types.h"

namespace fabric {
namespace rendezvous {

void ToProto(const Assignment& in, fabric::v1::Assignment* out);
Assignment FromProto(const fabric::v1::Assignment& in);
void ToProto(const WorkerFailure& in, fabric::v1::WorkerFailure* out);
WorkerFailure FromProto(const fabric::v1::WorkerFailure& in);
void ToProto(const Member& in, fabric::v1::Member* out);
Member FromProto(const fabric::v1::Member& in);
// `run_id` goes into the event's header.
void ToProto(const Event& in, const std::string& run_id, fabric::v1::Event* out);
Event FromProto(const fabric::v1::Event& in);
void ToProto(const RunStatus& in, fabric::v1::StatusResponse* out);
RunStatus FromProto(const fabric::v1::StatusResponse& in);
JoinRequest FromProto(const fabric::v1::JoinRequest& in);
void ToProto(const JoinRequest& in, fabric::v1::JoinRequest* out);

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_CONVERT_H_
