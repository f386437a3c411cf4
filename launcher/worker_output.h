// WorkerOutput: where one worker's stdout and stderr go. Whole lines reach the
// console prefixed with the worker's rank ("[rank 3]: "), one write(2) per batch of
// lines so that lines of different workers never mix; the raw bytes reach the
// per-rank log files; the last lines of stderr are kept for the failure report.
//
// Thread safety: none (used by the agent's event-loop thread). Owns its log files.
#ifndef FABRIC_LAUNCHER_WORKER_OUTPUT_H_
#define FABRIC_LAUNCHER_WORKER_OUTPUT_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "launcher/line_splitter.h"

namespace fabric::launcher {

struct WorkerOutputOptions {
  std::string prefix;  // "[rank 3]: "
  bool to_console = true;
  int console_stdout = 1;
  int console_stderr = 2;
  std::string stdout_log;  // empty: no file
  std::string stderr_log;  // empty: no file
  size_t tail_lines = 10;
  // A log file that cannot be written (disk full, I/O error) is closed and one warning
  // naming it and the error goes to console_stderr; the output still reaches the
  // console. When set, *log_warning_said (shared by every worker of the agent, outliving
  // them) keeps that to one warning per agent.
  bool* log_warning_said = nullptr;
};

enum class Stream { kStdout = 0, kStderr = 1 };

// "[rank 3]: " or, when the job has more than one node, "[node 1 rank 3]: ".
std::string RankPrefix(int global_rank, int node_rank, int num_nodes);

// Appends prefix + line + '\n' for every line to `out`.
void AppendPrefixed(absl::string_view prefix, const std::vector<std::string>& lines,
                    std::string* out);

class WorkerOutput {
 public:
  // Opens (creates/truncates) the log files. Returns the open error naming the file.
  static absl::StatusOr<std::unique_ptr<WorkerOutput>> Create(const WorkerOutputOptions& options);
  ~WorkerOutput();
  WorkerOutput(const WorkerOutput&) = delete;
  WorkerOutput& operator=(const WorkerOutput&) = delete;

  void OnData(Stream stream, absl::string_view data);
  // End of the stream: a partial last line is flushed (with a newline added).
  void OnEof(Stream stream);

  // The last `tail_lines` lines of stderr, oldest first.
  std::vector<std::string> StderrTail() const { return {tail_.begin(), tail_.end()}; }

 private:
  explicit WorkerOutput(const WorkerOutputOptions& options) : options_(options) {}
  void Emit(Stream stream, const std::vector<std::string>& lines);
  void WriteLog(int s, absl::string_view data);

  WorkerOutputOptions options_;
  LineSplitter splitters_[2];
  int log_fds_[2] = {-1, -1};
  std::deque<std::string> tail_;
  bool warned_ = false;  // when options_.log_warning_said is null
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_WORKER_OUTPUT_H_
