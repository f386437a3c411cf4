#include "common/worker_control.h"

#include <signal.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fabric {
namespace {

std::string NewerVersion(absl::string_view what, absl::string_view version,
                         int known = kWorkerControlVersion) {
  return absl::StrCat(what, " of version ", version, ", newer than this build's ", known,
                      ": use the same fabric-run release for the launcher and the trainer");
}

uint64_t LoadWord(absl::string_view bytes, size_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, sizeof(v));
  return v;
}

void StoreWord(std::string* bytes, size_t offset, uint64_t v) {
  std::memcpy(bytes->data() + offset, &v, sizeof(v));
}

}  // namespace

std::string EncodeShrink(const ShrinkCommand& command) {
  return absl::StrCat("v", kWorkerControlVersion, " shrink ", command.world_size, " ", command.rank,
                      "\n");
}

absl::StatusOr<ShrinkCommand> DecodeShrink(absl::string_view line) {
  std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
  if (!words.empty() && words[0].size() > 1 && words[0][0] == 'v') {
    int version = 0;
    if (!absl::SimpleAtoi(words[0].substr(1), &version) || version < 1) {
      return absl::InvalidArgumentError(absl::StrCat("malformed control line '", line, "'"));
    }
    if (version > kWorkerControlVersion) {
      return absl::InvalidArgumentError(NewerVersion("a control line", words[0].substr(1)));
    }
    words.erase(words.begin());
  }
  ShrinkCommand c;
  if (words.size() != 3 || words[0] != "shrink" || !absl::SimpleAtoi(words[1], &c.world_size) ||
      !absl::SimpleAtoi(words[2], &c.rank) || words[1][0] == '+' || words[2][0] == '+') {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed control line '", line, "' (expected 'shrink WORLD RANK')"));
  }
  if (c.world_size < 1 || c.rank < 0 || c.rank >= c.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("control line '", line, "': rank must be in [0, world) and world >= 1"));
  }
  return c;
}

void ControlLineReader::Append(absl::string_view bytes) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    if (discarding_) {
      if (nl == absl::string_view::npos) return;
      discarding_ = false;
      bytes.remove_prefix(nl + 1);
      continue;
    }
    const size_t take = nl == absl::string_view::npos ? bytes.size() : nl + 1;
    buf_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    // The unterminated tail (at most one: every earlier piece ended with '\n').
    const size_t last_nl = buf_.rfind('\n');
    const size_t tail = last_nl == std::string::npos ? buf_.size() : buf_.size() - last_nl - 1;
    if (tail > kMaxLine) {
      buf_.resize(buf_.size() - tail);
      discarding_ = true;
    }
  }
}

std::optional<std::string> ControlLineReader::Next() {
  const size_t nl = buf_.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buf_.substr(0, nl);
  buf_.erase(0, nl + 1);
  return line;
}

std::string EncodeSpareAssignment(const std::vector<std::string>& env) {
  std::string msg = absl::StrCat(kEnvWorkerControlVersion, "=", kWorkerControlVersion);
  msg.push_back('\0');
  for (const std::string& kv : env) msg.append(kv).push_back('\0');
  msg.push_back('\0');
  return msg;
}

absl::StatusOr<std::vector<std::string>> DecodeSpareAssignment(absl::string_view message) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (bool first = true;; first = false) {
    const size_t nul = message.find('\0', pos);
    if (nul == absl::string_view::npos) {
      return absl::FailedPreconditionError("the assignment is not complete yet");
    }
    if (nul == pos) return out;  // the empty entry ends the message
    absl::string_view kv = message.substr(pos, nul - pos);
    pos = nul + 1;
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("spare: malformed environment entry '", kv, "' from fabric-run"));
    }
    if (kv.substr(0, eq) == kEnvWorkerControlVersion) {
      absl::string_view v = kv.substr(eq + 1);
      int version = 0;
      if (!first || !absl::SimpleAtoi(v, &version) || version < 1 || v[0] == '+') {
        return absl::InvalidArgumentError(
            absl::StrCat("spare: malformed version entry '", kv, "' from fabric-run"));
      }
      if (version > kWorkerControlVersion) {
        return absl::InvalidArgumentError(NewerVersion("spare: an assignment", v));
      }
      continue;
    }
    out.emplace_back(kv);
  }
}

std::string NewHeartbeatFile() {
  HeartbeatWords w;
  w.version = kHeartbeatVersion;
  return EncodeHeartbeat(w);
}

namespace {
constexpr uint64_t kMaxStepWord = ~uint64_t{0} - 1;  // the largest word EncodeStepWord writes
}  // namespace

uint64_t EncodeStepWord(std::optional<uint64_t> step) {
  if (!step.has_value()) return 0;
  return *step >= kMaxStepWord ? kMaxStepWord : *step + 1;
}

std::optional<uint64_t> DecodeStepWord(uint64_t word) {
  if (word == 0) return std::nullopt;
  // A word above what the encoder writes (2^64 - 1) reads as the largest step it can write,
  // so that decode(encode(decode(w))) == decode(w) for every word (the fuzzer's invariant).
  return std::min(word, kMaxStepWord) - 1;
}

std::string EncodeHeartbeat(const HeartbeatWords& words) {
  const size_t size = words.version >= 2   ? kHeartbeatFileSize
                      : words.version == 1 ? kHeartbeatFileSizeV1
                                           : kHeartbeatFileSizeV0;
  std::string file(size, '\0');
  StoreWord(&file, kHeartbeatBeatsOffset, words.beats);
  StoreWord(&file, kHeartbeatShrinksOffset, words.shrinks_taken);
  if (words.version >= 1) {
    StoreWord(&file, kHeartbeatVersionOffset,
              kHeartbeatMagic | static_cast<uint64_t>(static_cast<uint32_t>(words.version)));
  }
  if (words.version >= 2) {
    StoreWord(&file, kHeartbeatStepOffset, EncodeStepWord(words.step));
    StoreWord(&file, kHeartbeatTotalOffset, words.total.value_or(0));
  }
  return file;
}

absl::StatusOr<HeartbeatWords> DecodeHeartbeat(absl::string_view bytes) {
  if (bytes.size() < kHeartbeatFileSizeV0) {
    return absl::InvalidArgumentError(absl::StrCat("heartbeat file of ", bytes.size(),
                                                   " bytes; at least ", kHeartbeatFileSizeV0));
  }
  HeartbeatWords w;
  w.beats = LoadWord(bytes, kHeartbeatBeatsOffset);
  w.shrinks_taken = LoadWord(bytes, kHeartbeatShrinksOffset);
  if (bytes.size() < kHeartbeatFileSizeV1) return w;  // version 0
  const uint64_t v = LoadWord(bytes, kHeartbeatVersionOffset);
  const uint64_t version = v & 0xffffffffULL;
  if ((v & ~0xffffffffULL) != kHeartbeatMagic || version < 1) {
    return absl::InvalidArgumentError("heartbeat file: word 2 is not a version word");
  }
  if (version > static_cast<uint64_t>(kHeartbeatVersion)) {
    return absl::InvalidArgumentError(
        NewerVersion("a heartbeat file", absl::StrCat(version), kHeartbeatVersion));
  }
  w.version = static_cast<int>(version);
  if (w.version >= 2) {
    if (bytes.size() < kHeartbeatFileSize) {
      return absl::InvalidArgumentError(absl::StrCat("heartbeat file of version 2 with ",
                                                     bytes.size(), " bytes; at least ",
                                                     kHeartbeatFileSize));
    }
    w.step = DecodeStepWord(LoadWord(bytes, kHeartbeatStepOffset));
    const uint64_t total = LoadWord(bytes, kHeartbeatTotalOffset);
    if (total != 0) w.total = total;
  }
  return w;
}

int StackDumpSignal() { return SIGRTMIN + 4; }

std::string StackFileFor(const std::string& heartbeat_file) { return heartbeat_file + ".stack"; }

}  // namespace fabric
