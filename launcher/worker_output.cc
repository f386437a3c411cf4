#include "launcher/worker_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fabric::launcher {
namespace {

// 0, or the errno of the write that failed (a short write counts as ENOSPC). Never
// blocks the agent beyond the write itself.
int WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ENOSPC;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

std::string RankPrefix(int global_rank, int node_rank, int num_nodes) {
  if (num_nodes > 1) return absl::StrCat("[node ", node_rank, " rank ", global_rank, "]: ");
  return absl::StrCat("[rank ", global_rank, "]: ");
}

void AppendPrefixed(absl::string_view prefix, const std::vector<std::string>& lines,
                    std::string* out) {
  for (const std::string& line : lines) absl::StrAppend(out, prefix, line, "\n");
}

absl::StatusOr<std::unique_ptr<WorkerOutput>> WorkerOutput::Create(
    const WorkerOutputOptions& options) {
  std::unique_ptr<WorkerOutput> out(new WorkerOutput(options));
  const std::string* paths[2] = {&options.stdout_log, &options.stderr_log};
  for (int i = 0; i < 2; ++i) {
    if (paths[i]->empty()) continue;
    int fd = open(paths[i]->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("open log file ", *paths[i], ": ", std::strerror(errno)));
    }
    out->log_fds_[i] = fd;
  }
  return out;
}

WorkerOutput::~WorkerOutput() {
  for (int fd : log_fds_) {
    if (fd >= 0) close(fd);
  }
}

void WorkerOutput::OnData(Stream stream, absl::string_view data) {
  int s = static_cast<int>(stream);
  if (log_fds_[s] >= 0) WriteLog(s, data);
  std::vector<std::string> lines;
  splitters_[s].Feed(data, &lines);
  Emit(stream, lines);
}

void WorkerOutput::WriteLog(int s, absl::string_view data) {
  const int err = WriteAll(log_fds_[s], data);
  if (err == 0) return;
  close(log_fds_[s]);
  log_fds_[s] = -1;
  bool* said = options_.log_warning_said != nullptr ? options_.log_warning_said : &warned_;
  if (*said) return;
  *said = true;
  const std::string& path = s == 0 ? options_.stdout_log : options_.stderr_log;
  // The console is the one place left to say it (a console that is gone drops it too).
  (void)WriteAll(options_.console_stderr,
                 absl::StrCat("fabric-run: warning: cannot write the log file ", path, ": ",
                              std::strerror(err),
                              "; the workers keep running and their output still reaches "
                              "the console; later log-file errors are not reported\n"));
}

void WorkerOutput::OnEof(Stream stream) {
  int s = static_cast<int>(stream);
  std::string rest;
  if (!splitters_[s].Flush(&rest)) return;
  Emit(stream, {rest});
}

void WorkerOutput::Emit(Stream stream, const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  if (stream == Stream::kStderr) {
    for (const std::string& line : lines) {
      tail_.push_back(line);
      if (tail_.size() > options_.tail_lines) tail_.pop_front();
    }
  }
  if (!options_.to_console) return;
  std::string out;
  AppendPrefixed(options_.prefix, lines, &out);
  // A console that is gone (EPIPE, closed) drops the output: never block the agent.
  (void)WriteAll(stream == Stream::kStdout ? options_.console_stdout : options_.console_stderr,
                 out);
}

}  // namespace fabric::launcher
