#include "common/one_line.h"

#include "absl/strings/str_cat.h"

namespace fabric {

std::string OneLineText(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

absl::Status OneLine(const absl::Status& status) {
  return absl::Status(status.code(), OneLineText(status.message()));
}

}  // namespace fabric
