#include "common/file_util.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

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
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read a token from '", path, "'",
                     text.has_value() ? " (it is empty)" : ""));
  }
  return token;
}

}  // namespace fabric
