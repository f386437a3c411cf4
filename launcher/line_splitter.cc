#include "launcher/line_splitter.h"

namespace fabric::launcher {

void LineSplitter::Feed(absl::string_view data, std::vector<std::string>* lines) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    absl::string_view piece = nl == absl::string_view::npos ? data : data.substr(0, nl);
    // Respect max_line_ while appending.
    size_t room = max_line_ - partial_.size();
    if (piece.size() >= room && !(nl != absl::string_view::npos && piece.size() == room)) {
      partial_.append(piece.data(), room);
      lines->push_back(std::move(partial_));
      partial_.clear();
      data.remove_prefix(room);
      continue;
    }
    partial_.append(piece.data(), piece.size());
    if (nl == absl::string_view::npos) return;
    lines->push_back(std::move(partial_));
    partial_.clear();
    data.remove_prefix(nl + 1);
  }
}

bool LineSplitter::Flush(std::string* line) {
  if (partial_.empty()) return false;
  *line = std::move(partial_);
  partial_.clear();
  return true;
}

}  // namespace fabric::launcher
