// The agent <-> worker control formats, the one definition both sides include: the agent
// (launcher/) encodes what the runtime (runtime/) decodes, and the other way round. Pure: no
// I/O; each side opens its FIFO or file and hands the bytes here.
//
// Versions. Every format carries kWorkerControlVersion. A reader accepts its own version and
// the unversioned form that fabric-run wrote before the formats were versioned ("version 0",
// so a trainer built against an older runtime keeps working); a newer version than it knows is
// refused with a line that says to use the same fabric-run release for the launcher and the
// trainer. A new version may only add: a command, an environment entry, a heartbeat word
// after the last one; never move or re-purpose one.
//
// 1. Control FIFO (FABRIC_CONTROL_FIFO, --recovery in-place), agent -> worker, one command a
//    line:        "v1 shrink WORLD RANK\n"     (version 0: "shrink WORLD RANK\n")
//    The worker re-forms its process group with WORLD ranks, itself as RANK.
// 2. Spare assignment (FABRIC_SPARE_FIFO, --spares N), agent -> spare, once: the complete
//    environment of the worker the spare replaces, each "KEY=VALUE" NUL-terminated, then one
//    more NUL. The first entry is "FABRIC_WORKER_CONTROL_VERSION=1" (version 0: absent); the
//    decoder takes it out of the environment it returns.
// 3. Heartbeat file (FABRIC_HEARTBEAT_FILE), worker -> agent, shared memory (mmap): unsigned
//    64-bit words in host byte order (little-endian on every platform fabric-run builds for;
//    Python's fabric_heartbeat packs "<Q"):
//      word 0  beats         bumped on every step and around every collective
//      word 1  shrinks taken bumped after the worker took one more "shrink" (command 1)
//      word 2  version       written once by the agent: kHeartbeatMagic | version
//    Version 0 files are 16 bytes (no word 2). Words 0 and 1 never move.
#ifndef FABRIC_COMMON_WORKER_CONTROL_H_
#define FABRIC_COMMON_WORKER_CONTROL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric {

inline constexpr int kWorkerControlVersion = 1;

// --- 1. Control FIFO -------------------------------------------------------------------

struct ShrinkCommand {
  int world_size = 0;  // >= 1
  int rank = 0;        // in [0, world_size)
  bool operator==(const ShrinkCommand& o) const {
    return world_size == o.world_size && rank == o.rank;
  }
};

// "v1 shrink WORLD RANK\n". The command must be valid (world >= 1, 0 <= rank < world).
std::string EncodeShrink(const ShrinkCommand& command);

// One line without its '\n'. InvalidArgument for anything but a valid shrink of version 1
// or 0 (a version above kWorkerControlVersion: the message says so).
absl::StatusOr<ShrinkCommand> DecodeShrink(absl::string_view line);

// Splits a byte stream (a non-blocking FIFO read in pieces) into lines. A line longer than
// kMaxLine without its '\n' is dropped whole (up to its '\n'), so a garbage writer cannot
// grow the buffer without bound.
class ControlLineReader {
 public:
  static constexpr size_t kMaxLine = 4096;
  void Append(absl::string_view bytes);
  // The next complete line (without '\n'), or nullopt until one has arrived.
  std::optional<std::string> Next();

 private:
  std::string buf_;
  bool discarding_ = false;  // inside an over-long line, until its '\n'
};

// --- 2. Spare assignment ---------------------------------------------------------------

inline constexpr char kEnvWorkerControlVersion[] = "FABRIC_WORKER_CONTROL_VERSION";

// The message for `env` ("KEY=VALUE" entries; none may contain a NUL or lack its '=').
std::string EncodeSpareAssignment(const std::vector<std::string>& env);

// Decodes a message that may still be arriving: the environment (without the version entry)
// once the final NUL is in `message`; FailedPrecondition while it is not complete yet;
// InvalidArgument for an entry without '=' or with an empty key, a version entry that is not
// the first, or an unknown version. Bytes after the final NUL are ignored.
absl::StatusOr<std::vector<std::string>> DecodeSpareAssignment(absl::string_view message);

// --- 3. Heartbeat file -----------------------------------------------------------------

inline constexpr size_t kHeartbeatBeatsOffset = 0;
inline constexpr size_t kHeartbeatShrinksOffset = 8;
inline constexpr size_t kHeartbeatVersionOffset = 16;
inline constexpr size_t kHeartbeatFileSize = 24;                    // this version's file
inline constexpr size_t kHeartbeatFileSizeV0 = 16;                  // before the version word
inline constexpr uint64_t kHeartbeatMagic = 0x4642485400000000ULL;  // "FBHT" << 32

// The agent's new heartbeat file: zero counters and the version word.
std::string NewHeartbeatFile();

struct HeartbeatWords {
  uint64_t beats = 0;
  uint64_t shrinks_taken = 0;
  int version = 0;
};

// Reads a heartbeat file's bytes (its whole content, or at least its first 16).
// InvalidArgument when shorter than a version-0 file, or when word 2 is not a version word
// of a version this build knows.
absl::StatusOr<HeartbeatWords> DecodeHeartbeat(absl::string_view bytes);

}  // namespace fabric

#endif  // FABRIC_COMMON_WORKER_CONTROL_H_
