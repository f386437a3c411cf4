#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/synchronization/mutex.h"

namespace fabric {
namespace {

LogLevel InitialLevel() {
  const char* v = std::getenv("FABRIC_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kWarning;
  if (std::strcmp(v, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(v, "info") == 0) return LogLevel::kInfo;
  if (std::strcmp(v, "error") == 0) return LogLevel::kError;
  return LogLevel::kWarning;
}

std::atomic<int>& Level() {
  static std::atomic<int> level{static_cast<int>(InitialLevel())};
  return level;
}

absl::Mutex& PrefixMu() {
  static absl::Mutex* mu = new absl::Mutex;
  return *mu;
}

std::string& Prefix() {
  static std::string* prefix = new std::string("fabric-run");
  return *prefix;
}

// The severity word after the program name; none for info.
const char* LevelWord(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug: ";
    case LogLevel::kInfo: return "";
    case LogLevel::kWarning: return "warning: ";
    case LogLevel::kError: return "error: ";
  }
  return "";
}

}  // namespace

std::string FormatLogLine(absl::string_view prefix, LogLevel level, absl::string_view message) {
  return absl::StrCat(prefix, ": ", LevelWord(level), message, "\n");
}

void SetLogPrefix(std::string prefix) {
  absl::MutexLock lock(&PrefixMu());
  Prefix() = std::move(prefix);
}

void SetLogLevel(LogLevel level) { Level().store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= Level().load(); }

void LogLine(LogLevel level, const std::string& message) {
  std::string line;
  {
    absl::MutexLock lock(&PrefixMu());
    line = FormatLogLine(Prefix(), level, message);
  }
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace fabric
