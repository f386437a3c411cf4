// EventLog: what happened in a run, one JSON object a line, for users' tools (--events FILE,
// and always <log-dir>/<run-id>/events.jsonl when --log-dir is given).
//
// Each line has the shape of torchelastic's event record (torch.distributed.elastic.events.
// api.Event, whose Event.deserialize reads every line):
//   {"name": "fabric.worker.exit", "source": "AGENT", "timestamp": <ms since the epoch>,
//    "metadata": {"run_id": "...", "hostname": "...", "node_rank": 0, ...}}
// metadata holds scalars only (string, integer, float, bool, null). Every record carries
// run_id, hostname and node_rank (-1 before the first plan); the names and their other keys
// are listed in doc/events.md. A worker's exit uses torchelastic's keys where it has them
// (global_rank, group_rank, worker_id = pid, state SUCCEEDED/FAILED, raw_error).
//
// Each record is one write(2) to each file (opened O_APPEND), so lines from a restart storm
// are neither lost nor interleaved. A file that cannot be written gets one warning on stderr
// and no more records; the run goes on.
// Thread safety: single-threaded (the agent's loop).
#ifndef FABRIC_LAUNCHER_EVENT_LOG_H_
#define FABRIC_LAUNCHER_EVENT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/unique_fd.h"
#include "nlohmann/json.hpp"

namespace fabric::launcher {

struct EventRecord {
  std::string name;
  std::string source = "AGENT";  // or "WORKER"
  int64_t timestamp_ms = 0;
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();  // scalars only
};

// One line (with its '\n'). Pure.
std::string EncodeEvent(const EventRecord& event);
// The inverse, for tests and tools: InvalidArgument for a line that is not a record.
absl::StatusOr<EventRecord> DecodeEvent(absl::string_view line);

class EventLog {
 public:
  // Opens (creates, appends to) every path; FailedPrecondition (bad input: fabric-run exits
  // 2) naming the path and the error for one that cannot be opened. `clock` stamps the records (not owned).
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::vector<std::string>& paths,
                                                        Clock* clock, std::string run_id,
                                                        std::string hostname);

  void set_node_rank(int node_rank) { node_rank_ = node_rank; }
  void set_run_id(std::string run_id) { run_id_ = std::move(run_id); }

  // Writes `name` with `metadata` (an object of scalars) and the common keys.
  void Record(absl::string_view name,
              nlohmann::ordered_json metadata = nlohmann::ordered_json::object());

 private:
  EventLog(Clock* clock, std::string run_id, std::string hostname)
      : clock_(clock), run_id_(std::move(run_id)), hostname_(std::move(hostname)) {}
  struct File {
    std::string path;
    UniqueFd fd;
  };
  Clock* clock_;
  std::string run_id_;
  std::string hostname_;
  int node_rank_ = -1;
  std::vector<File> files_;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_EVENT_LOG_H_
