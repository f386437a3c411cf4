#include "launcher/stack_summary.h"

#include <cxxabi.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace fabric::launcher {
namespace {

bool IsHeader(const std::string& line) {
  return absl::StrContains(line, "(most recent call first):");
}

// '  File "/a/b/train.py", line 52 in <module>' -> "<module> (train.py:52)".
bool PythonFrame(absl::string_view line, std::string* out) {
  line = absl::StripLeadingAsciiWhitespace(line);
  if (!absl::ConsumePrefix(&line, "File \"")) return false;
  const size_t quote = line.find('"');
  if (quote == absl::string_view::npos) return false;
  absl::string_view file = line.substr(0, quote);
  absl::string_view rest = line.substr(quote + 1);
  if (!absl::ConsumePrefix(&rest, ", line ")) return false;
  const size_t in = rest.find(" in ");
  if (in == absl::string_view::npos) return false;
  const size_t slash = file.rfind('/');
  if (slash != absl::string_view::npos) file = file.substr(slash + 1);
  *out = absl::StrCat(rest.substr(in + 4), " (", file, ":", rest.substr(0, in), ")");
  return true;
}

// glibc's "/path/lib.so(_ZN4c10d5Store3getEv+0x1a) [0x7f..]" -> "c10d::Store::get()";
// without a symbol "/path/train(+0x1234) [0x55..]" -> "train+0x1234".
bool NativeFrame(absl::string_view line, std::string* out) {
  const size_t open = line.find('(');
  size_t close = line.find(")[0x");  // glibc 2.36 writes no space before '['
  if (close == absl::string_view::npos) close = line.find(") [0x");
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return false;
  }
  absl::string_view object = line.substr(0, open);
  const size_t slash = object.rfind('/');
  if (slash != absl::string_view::npos) object = object.substr(slash + 1);
  absl::string_view inside = line.substr(open + 1, close - open - 1);
  const size_t plus = inside.rfind('+');
  absl::string_view symbol = inside.substr(0, plus);
  if (symbol.empty()) {
    *out = absl::StrCat(object, plus == absl::string_view::npos ? "" : inside.substr(plus));
    return true;
  }
  int status = -1;
  const std::string mangled(symbol);
  char* demangled = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled != nullptr ? demangled : mangled;
  std::free(demangled);
  if (name.size() > 120) name = absl::StrCat(name.substr(0, 117), "...");
  *out = name;
  return true;
}

}  // namespace

std::vector<std::string> LastStackDump(const std::vector<std::string>& lines) {
  // The last dump starts at "Fatal Python error: ..." (faulthandler; the current thread's
  // block comes first) or at our runtime's "*** fabric runtime:" line; without either,
  // at the last "(most recent call first):" header.
  size_t start = lines.size();
  for (size_t i = lines.size(); i-- > 0;) {
    if (absl::StartsWith(lines[i], "Fatal Python error") ||
        absl::StrContains(lines[i], "*** fabric runtime:")) {
      start = i;
      break;
    }
  }
  if (start == lines.size()) {
    for (size_t i = lines.size(); i-- > 0;) {
      if (IsHeader(lines[i])) {
        start = i;
        break;
      }
    }
  }
  std::vector<std::string> frames;
  for (size_t i = start; i < lines.size(); ++i) {
    std::string f;
    if (PythonFrame(lines[i], &f) || NativeFrame(lines[i], &f)) {
      frames.push_back(f);
    } else if (!frames.empty()) {
      break;  // the end of the first (current) thread's block
    }
  }
  return frames;
}

namespace {

// Frames of the C library and the C++ standard library's waiting machinery: where every
// blocked thread sits, so they say nothing about which call blocked.
bool IsSystemFrame(const std::string& f) {
  return absl::StartsWith(f, "libc.so") || absl::StartsWith(f, "libstdc++.so") ||
         absl::StartsWith(f, "pthread_") || absl::StartsWith(f, "__") ||
         absl::StartsWith(f, "std::condition_variable") || absl::StartsWith(f, "std::__");
}

}  // namespace

std::string SummarizeStack(const std::vector<std::string>& all) {
  std::vector<std::string> frames = all;
  size_t skip = 0;
  while (skip < frames.size() && IsSystemFrame(frames[skip])) ++skip;
  if (skip < frames.size()) frames.erase(frames.begin(), frames.begin() + skip);
  if (frames.size() <= 4) return absl::StrJoin(frames, " <- ");
  return absl::StrCat(frames[0], " <- ", frames[1], " <- ", frames[2], " <- ... <- ",
                      frames.back());
}

}  // namespace fabric::launcher
