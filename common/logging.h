// A small logger (Debian's abseil has no absl/log). Lines go to stderr, written with
// one write(2) each so that concurrent lines never interleave:
//   [fabric-run node=0 pid=1234] E message
//
// Thread safety: all functions may be called from any thread.
#ifndef FABRIC_COMMON_LOGGING_H_
#define FABRIC_COMMON_LOGGING_H_

#include <string>

#include "absl/strings/str_cat.h"

namespace fabric {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the prefix shown in brackets (e.g. "fabric-run node=0") and the minimum level.
// FABRIC_LOG_LEVEL=debug|info|warning|error in the environment sets the initial level.
void SetLogPrefix(std::string prefix);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes one line (a newline is appended).
void LogLine(LogLevel level, const std::string& message);

template <typename... Args>
void LogDebug(const Args&... args) {
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, absl::StrCat(args...));
}
template <typename... Args>
void LogInfo(const Args&... args) {
  if (LogEnabled(LogLevel::kInfo)) LogLine(LogLevel::kInfo, absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  if (LogEnabled(LogLevel::kWarning)) LogLine(LogLevel::kWarning, absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  if (LogEnabled(LogLevel::kError)) LogLine(LogLevel::kError, absl::StrCat(args...));
}

}  // namespace fabric

#endif  // FABRIC_COMMON_LOGGING_H_
