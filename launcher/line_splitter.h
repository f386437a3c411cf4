// LineSplitter: turns a byte stream (a worker's pipe) into whole lines. Pure.
//
// Thread safety: none (one instance per stream, used by one thread).
#ifndef FABRIC_LAUNCHER_LINE_SPLITTER_H_
#define FABRIC_LAUNCHER_LINE_SPLITTER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fabric::launcher {

class LineSplitter {
 public:
  // A line longer than `max_line` bytes is emitted in pieces of `max_line` bytes
  // (so one runaway writer cannot grow memory without bound).
  explicit LineSplitter(size_t max_line = 1 << 20) : max_line_(max_line) {}

  // Appends `data`; appends each line it completes to `lines`, without its '\n'.
  void Feed(absl::string_view data, std::vector<std::string>* lines);

  // At end of stream: returns true and sets `line` to the unterminated remainder,
  // if there is one.
  bool Flush(std::string* line);

 private:
  size_t max_line_;
  std::string partial_;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_LINE_SPLITTER_H_
