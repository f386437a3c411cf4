// A small logger (Debian's abseil has no absl/log). Lines go to stderr, written with
// one write(2) each so that concurrent lines never interleave, in the one shape of all
// of fabric-run's own lines (doc/launcher.md "fabric-run's own lines"):
//   fabric-run: message               (info, and LogProgress)
//   fabric-run: warning: message
//   fabric-run: error: message
//   fabric-run: debug: message
// ("fabric-rendezvous: ..." in the standalone server).
//
// Thread safety: all functions may be called from any thread.
#ifndef FABRIC_COMMON_LOGGING_H_
#define FABRIC_COMMON_LOGGING_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace fabric {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the program name that starts each line ("fabric-run" unless set) and the minimum
// level.
// FABRIC_LOG_LEVEL=debug|info|warning|error in the environment sets the initial level.
void SetLogPrefix(std::string prefix);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// One line as LogLine writes it, with its newline. Pure.
std::string FormatLogLine(absl::string_view prefix, LogLevel level, absl::string_view message);

// Writes one line (a newline is appended), whatever the level set.
void LogLine(LogLevel level, const std::string& message);

// A line that says what fabric-run is doing while the user waits (nodes joining, a
// server not listening yet): written at every log level, with no severity word.
template <typename... Args>
void LogProgress(const Args&... args) {
  LogLine(LogLevel::kInfo, absl::StrCat(args...));
}

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
