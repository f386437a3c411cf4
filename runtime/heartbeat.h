// The runtime's side of fabric-run's hang detection (launcher/hang_watch.h; the file
// layout: common/worker_control.h).
//
// OpenHeartbeatFile(path): maps the file FABRIC_HEARTBEAT_FILE names (RuntimeEnv,
// runtime_env.h; layout: common/worker_control.h). Only the first call counts; "" or a
// file that cannot be mapped leaves every call below a no-op (not under fabric-run).
// Fabric::Launch calls it.
//
// Beat(): bumps the beats word of the opened file; no-op before OpenHeartbeatFile. The runtime beats when it launches, on every optimizer step and before
// and after every collective, so a rank blocked in a collective stops beating.
//
// ReportStep(step) / ReportTotalSteps(total): write the file's step word (the count of
// completed steps; Fabric::Step reports it on its own) and total-steps word (0: unknown).
// No-ops before OpenHeartbeatFile, and when the file is of an agent too old to have
// those words (a version-0/1 file: nothing is written past its end).
//
// AckShrink(): bumps the file's shrinks-taken word: "this worker took one more
// 'shrink' from its control FIFO and re-formed its process group with the new world".
// fabric-run waits for it after telling the workers to shrink (--recovery in-place);
// a worker that does not take it in time (e.g. blocked in a collective with a
// partitioned node) makes the agent restart the job.
//
// InstallHangStackHandler(): once a heartbeat file is open (under fabric-run), SIGABRT (what fabric-run sends a hung
// worker before stopping it) first writes the receiving thread's stack to stderr:
//     *** fabric runtime: SIGABRT; stack (most recent call first):
//     /path/libtorch_cpu.so(_ZN4c10d16ProcessGroupGloo...+0x1a) [0x7f...]
// (glibc's backtrace_symbols_fd, async-signal-safe), then dies of SIGABRT as it would
// have. It also creates the live-stack file and handles StackDumpSignal() without dying
// (common/worker_control.h, 4: fabric-run stacks). Idempotent.
//
// Thread safety: all may be called from any thread.
#ifndef FABRIC_RUNTIME_HEARTBEAT_H_
#define FABRIC_RUNTIME_HEARTBEAT_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace fabric::runtime {

void OpenHeartbeatFile(const std::string& path);
void Beat();
void ReportStep(uint64_t step);
void ReportTotalSteps(uint64_t total);
void AckShrink();
void InstallHangStackHandler();

// One mapped heartbeat file: what the functions above write through (one process-wide
// instance, made by OpenHeartbeatFile); a test maps its own. Maps only the words the file
// holds: beats always (when the file could be opened), shrinks taken when it has 16
// bytes, step and total when it decodes as version >= 2 (DecodeHeartbeat). Each writer
// is a no-op on a word it does not map. The mapping lives as long as the object.
// Thread safety: every method may be called from any thread.
class HeartbeatWriter {
 public:
  // Maps `path` ("" or a file that cannot be mapped: every write is a no-op).
  explicit HeartbeatWriter(const std::string& path);
  ~HeartbeatWriter();
  HeartbeatWriter(const HeartbeatWriter&) = delete;
  HeartbeatWriter& operator=(const HeartbeatWriter&) = delete;

  bool open() const { return word_[kBeats] != nullptr; }
  const std::string& path() const { return path_; }
  // Whether the file has the step and total words (an agent of heartbeat version >= 2).
  bool reports_step() const { return word_[kStep] != nullptr; }
  void Beat();
  void AckShrink();
  void SetStep(uint64_t step);
  void SetTotalSteps(uint64_t total);

 private:
  enum Word { kBeats, kShrinks, kStep, kTotal, kWords };
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::atomic<uint64_t>* word_[kWords] = {};
};

// Beats when constructed and when destroyed: around a collective.
struct BeatScope {
  BeatScope() { Beat(); }
  ~BeatScope() { Beat(); }
  BeatScope(const BeatScope&) = delete;
  BeatScope& operator=(const BeatScope&) = delete;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_HEARTBEAT_H_
