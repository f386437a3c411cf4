#include "launcher/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace fabric::launcher {

std::string EncodeEvent(const EventRecord& event) {
  nlohmann::ordered_json j = {{"name", event.name},
                              {"source", event.source},
                              {"timestamp", event.timestamp_ms},
                              {"metadata", event.metadata}};
  // Invalid UTF-8 (a worker's raw bytes in raw_error) is replaced, never thrown about.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

absl::StatusOr<EventRecord> DecodeEvent(absl::string_view line) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(line.begin(), line.end(), nullptr,
                                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("not a JSON object: ", line));
  }
  auto name = j.find("name");
  auto source = j.find("source");
  auto ts = j.find("timestamp");
  auto meta = j.find("metadata");
  if (name == j.end() || !name->is_string() || source == j.end() || !source->is_string() ||
      ts == j.end() || !ts->is_number_integer() || meta == j.end() || !meta->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an event record (name, source, timestamp, metadata): ", line));
  }
  for (const auto& [key, value] : meta->items()) {
    if (value.is_structured()) {
      return absl::InvalidArgumentError(absl::StrCat("metadata '", key, "' is not a scalar"));
    }
  }
  EventRecord e;
  e.name = name->get<std::string>();
  e.source = source->get<std::string>();
  e.timestamp_ms = ts->get<int64_t>();
  e.metadata = *meta;
  return e;
}

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::vector<std::string>& paths,
                                                         Clock* clock, std::string run_id,
                                                         std::string hostname) {
  std::unique_ptr<EventLog> log(new EventLog(clock, std::move(run_id), std::move(hostname)));
  for (const std::string& path : paths) {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) {
      return absl::FailedPreconditionError(
          absl::StrCat("--events ", path, ": ", std::strerror(errno),
                       " (name a file in a directory that exists and that you may write)"));
    }
    log->files_.push_back(File{path, std::move(fd)});
  }
  return log;
}

void EventLog::Record(absl::string_view name, nlohmann::ordered_json metadata) {
  if (files_.empty()) return;
  EventRecord e;
  e.name = std::string(name);
  e.timestamp_ms = absl::ToUnixMillis(clock_->TimeNow());
  e.metadata = std::move(metadata);
  e.metadata["run_id"] = run_id_;
  e.metadata["hostname"] = hostname_;
  e.metadata["node_rank"] = node_rank_;
  const std::string line = EncodeEvent(e);
  for (auto it = files_.begin(); it != files_.end();) {
    const ssize_t n = write(it->fd.get(), line.data(), line.size());
    if (n == static_cast<ssize_t>(line.size())) {
      ++it;
      continue;
    }
    LogWarning("event log ", it->path, ": ", n < 0 ? std::strerror(errno) : "short write",
               "; no more events are written to it");
    it = files_.erase(it);
  }
}

}  // namespace fabric::launcher
