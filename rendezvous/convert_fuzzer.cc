// libFuzzer target: proto <-> struct conversion (convert.h). Input: byte 0 picks the
// message type, the rest is parsed as that message (what a peer could send). Invariant:
// conversion is stable: proto -> struct -> proto, serialized, is a fixed point after one
// round (a second round changes nothing), and nothing crashes on any field values.
#include <cstdint>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "rendezvous/convert.h"
#include "tools/fuzz/check.h"

namespace {

using namespace fabric::rendezvous;
namespace v1 = fabric::v1;

template <typename Proto, typename Round>
void CheckFixedPoint(const uint8_t* data, size_t size, Round round) {
  Proto in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return;
  const std::string once = round(in).SerializeAsString();
  Proto reparsed;
  FUZZ_CHECK(reparsed.ParseFromString(once), "our own serialization does not parse");
  const std::string twice = round(reparsed).SerializeAsString();
  FUZZ_CHECK(once == twice, in.ShortDebugString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Invalid UTF-8 in a string field is a parse failure protobuf also logs: not news here.
static const bool kQuiet = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 6;
  ++data;
  --size;
  switch (kind) {
    case 0:
      CheckFixedPoint<v1::JoinRequest>(data, size, [](const v1::JoinRequest& p) {
        v1::JoinRequest out;
        ToProto(FromProto(p), &out);
        return out;
      });
      break;
    case 1:
      CheckFixedPoint<v1::Assignment>(data, size, [](const v1::Assignment& p) {
        v1::Assignment out;
        ToProto(FromProto(p), &out);
        return out;
      });
      break;
    case 2:
      CheckFixedPoint<v1::WorkerFailure>(data, size, [](const v1::WorkerFailure& p) {
        v1::WorkerFailure out;
        ToProto(FromProto(p), &out);
        return out;
      });
      break;
    case 3:
      CheckFixedPoint<v1::Member>(data, size, [](const v1::Member& p) {
        v1::Member out;
        ToProto(FromProto(p), &out);
        return out;
      });
      break;
    case 4:
      CheckFixedPoint<v1::Event>(data, size, [](const v1::Event& p) {
        v1::Event out;
        ToProto(FromProto(p), p.header().run_id(), &out);
        return out;
      });
      break;
    default:
      CheckFixedPoint<v1::StatusResponse>(data, size, [](const v1::StatusResponse& p) {
        v1::StatusResponse out;
        ToProto(FromProto(p), &out);
        return out;
      });
      break;
  }
  return 0;
}
