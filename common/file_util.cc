#include "common/file_util.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fabric {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, absl::string_view flag) {
  std::optional<std::string> text = ReadFile(path);
  std::string token(absl::StripAsciiWhitespace(text.value_or("")));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read a token from '", path, "'",
                                                   text.has_value() ? " (it is empty)" : ""));
  }
  return token;
}

absl::Status MakeDirs(const std::string& path, absl::string_view what) {
  std::string cur;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty()) {
      if (cur.empty()) cur = "/";
      continue;
    }
    cur = (cur.empty() || cur == "/") ? absl::StrCat(cur, part) : absl::StrCat(cur, "/", part);
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("create ", what, " ", cur, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace fabric
