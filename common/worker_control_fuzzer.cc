// libFuzzer target: the decoders of common/worker_control.h, which read what another
// process wrote (a FIFO, a shared file). Byte 0 picks the decoder; the rest is its input.
// Invariants: no crash; a decoded shrink is in range and re-encodes to a line that decodes
// to itself; a decoded assignment re-encodes to a message that decodes to itself; the line
// reader yields only lines without '\n' and of at most kMaxLine bytes, whatever the pieces;
// a decoded heartbeat file has a known version, a step and total only from version 2 (and
// then from at least 40 bytes), and re-encodes to a file that decodes to the same words.
#include <cstdint>
#include <string>
#include <vector>

#include "common/worker_control.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fabric;
  if (size == 0) return 0;
  const absl::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      absl::StatusOr<ShrinkCommand> c = DecodeShrink(in);
      if (!c.ok()) break;
      FUZZ_CHECK(c->world_size >= 1 && c->rank >= 0 && c->rank < c->world_size, std::string(in));
      const std::string line = EncodeShrink(*c);
      absl::StatusOr<ShrinkCommand> again = DecodeShrink(line.substr(0, line.size() - 1));
      FUZZ_CHECK(again.ok() && *again == *c, line);
      break;
    }
    case 1: {
      absl::StatusOr<std::vector<std::string>> env = DecodeSpareAssignment(in);
      if (!env.ok()) break;
      absl::StatusOr<std::vector<std::string>> again =
          DecodeSpareAssignment(EncodeSpareAssignment(*env));
      FUZZ_CHECK(again.ok() && *again == *env, std::string(in));
      break;
    }
    case 2: {
      ControlLineReader r;
      // Pieces cut where the input has a byte 0x01 (a FIFO read may end anywhere).
      size_t start = 0;
      for (size_t i = 0; i <= in.size(); ++i) {
        if (i == in.size() || in[i] == '\x01') {
          r.Append(in.substr(start, i - start));
          start = i + 1;
          while (std::optional<std::string> line = r.Next()) {
            FUZZ_CHECK(line->find('\n') == std::string::npos, *line);
            FUZZ_CHECK(line->size() <= ControlLineReader::kMaxLine, "over-long line");
            (void)DecodeShrink(*line);
          }
        }
      }
      break;
    }
    case 3: {
      absl::StatusOr<HeartbeatWords> w = DecodeHeartbeat(in);
      FUZZ_CHECK(w.ok() || in.size() >= kHeartbeatFileSizeV1 || in.size() < kHeartbeatFileSizeV0,
                 "a file of 16..23 bytes is version 0 and always decodes");
      if (!w.ok()) break;
      FUZZ_CHECK(w->version >= 0 && w->version <= kHeartbeatVersion, "version");
      FUZZ_CHECK(w->version >= 2 || (!w->step.has_value() && !w->total.has_value()),
                 "a step or total in a file before version 2");
      FUZZ_CHECK(w->version < 2 || in.size() >= kHeartbeatFileSize, "a short version-2 file");
      FUZZ_CHECK(!w->total.has_value() || *w->total != 0, "total 0 is unknown");
      absl::StatusOr<HeartbeatWords> again = DecodeHeartbeat(EncodeHeartbeat(*w));
      FUZZ_CHECK(again.ok() && *again == *w, "heartbeat re-encoding");
      break;
    }
  }
  return 0;
}
