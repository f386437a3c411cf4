// The agent <-> worker control formats, the one definition both sides include: the agent
// (launcher/) encodes what the runtime (runtime/) decodes, and the other way round. Pure: no
// I/O; each side opens its FIFO or file and hands the bytes here.
//
// Versions. Formats 1 and 2 carry kWorkerControlVersion, the heartbeat file (3) its own
// kHeartbeatVersion (it grew words on its own; the FIFO line and the assignment did not
// change, so a trainer of the previous release still takes this agent's shrink). A reader
// accepts its own version, every earlier one, and the unversioned form that fabric-run wrote before the formats were versioned ("version 0",
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
//      word 3  step          (version 2) 0: not reported; else 1 + the worker's completed
//                            steps (EncodeStepWord), written by the worker
//      word 4  total steps   (version 2) 0: unknown; else how many steps the run makes
//    Version 0 files are 16 bytes (no word 2), version 1 files 24 (no words 3, 4), version 2
//    files 40. Words 0..2 never move. A worker maps only the words its file has: given an
//    older agent's shorter file it does not report its step (and never writes past the end).
// 4. Live stack (fabric-run stacks), for a worker on the C++ runtime: once it has opened its
//    heartbeat file, it creates StackFileFor(heartbeat file) (mode 0600, empty) and handles
//    StackDumpSignal(): sent to its main thread (tgkill(pid, pid, sig)), the handler rewrites
//    that file with the main thread's stack (glibc's backtrace_symbols_fd lines, most recent
//    call first) and ends it with kStackDumpEnd; the worker then goes on. The file's existence
//    says the worker handles the signal (any other process would die of it: it is a real-time
//    signal, whose default action is to terminate).
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
inline constexpr size_t kHeartbeatStepOffset = 24;                  // version 2
inline constexpr size_t kHeartbeatTotalOffset = 32;                 // version 2
inline constexpr size_t kHeartbeatFileSize = 40;                    // this version's file
inline constexpr size_t kHeartbeatFileSizeV1 = 24;                  // before step and total
inline constexpr size_t kHeartbeatFileSizeV0 = 16;                  // before the version word
inline constexpr uint64_t kHeartbeatMagic = 0x4642485400000000ULL;  // "FBHT" << 32
inline constexpr int kHeartbeatVersion = 2;

// The agent's new heartbeat file: zero counters (step not reported, total unknown) and
// the version word.
std::string NewHeartbeatFile();

// Word 3: nullopt (not reported) is 0, step s is s + 1. A step of 2^64 - 2 or more is
// written as 2^64 - 2 (the largest word written); the word 2^64 - 1 reads as that step too.
uint64_t EncodeStepWord(std::optional<uint64_t> step);
std::optional<uint64_t> DecodeStepWord(uint64_t word);

struct HeartbeatWords {
  uint64_t beats = 0;
  uint64_t shrinks_taken = 0;
  int version = 0;
  // Versions >= 2 only; nullopt when not reported (or a file of an earlier version).
  std::optional<uint64_t> step;
  std::optional<uint64_t> total;  // nullopt when word 4 is 0 (unknown)
  bool operator==(const HeartbeatWords& o) const {
    return beats == o.beats && shrinks_taken == o.shrinks_taken && version == o.version &&
           step == o.step && total == o.total;
  }
};

// The file of `words` at its version (0: 16 bytes, 1: 24, 2: 40), so that a test or the
// fuzzer can write any release's file. REQUIRES: 0 <= words.version <= kHeartbeatVersion;
// step and total are written only at version >= 2.
std::string EncodeHeartbeat(const HeartbeatWords& words);

// Reads a heartbeat file's bytes (its whole content, or at least the size of its version).
// InvalidArgument when shorter than a version-0 file, when word 2 is not a version word of
// a version this build knows, or when a version-2 file is shorter than 40 bytes.
absl::StatusOr<HeartbeatWords> DecodeHeartbeat(absl::string_view bytes);

// --- 4. Live stack ---------------------------------------------------------------------

inline constexpr char kStackDumpEnd[] = "*** end of stack\n";
// SIGRTMIN + 4 (SIGRTMIN is known only at run time: glibc keeps the first ones).
int StackDumpSignal();
std::string StackFileFor(const std::string& heartbeat_file);  // "<heartbeat_file>.stack"

}  // namespace fabric

#endif  // FABRIC_COMMON_WORKER_CONTROL_H_
