// The runtime's side of fabric-run's hang detection (launcher/hang_watch.h).
//
// Beat(): bumps the counter in the file FABRIC_HEARTBEAT_FILE names (8 bytes, a
// little-endian uint64, mapped once); no-op when the variable is unset (not under
// fabric-run). The runtime beats when it launches, on every optimizer step and before
// and after every collective, so a rank blocked in a collective stops beating.
//
// InstallHangStackHandler(): under fabric-run, SIGABRT (what fabric-run sends a hung
// worker before stopping it) first writes the receiving thread's stack to stderr:
//     *** fabric runtime: SIGABRT; stack (most recent call first):
//     /path/libtorch_cpu.so(_ZN4c10d16ProcessGroupGloo...+0x1a) [0x7f...]
// (glibc's backtrace_symbols_fd, async-signal-safe), then dies of SIGABRT as it would
// have. Idempotent.
//
// Thread safety: both may be called from any thread.
#ifndef FABRIC_RUNTIME_HEARTBEAT_H_
#define FABRIC_RUNTIME_HEARTBEAT_H_

namespace fabric::runtime {

void Beat();
void InstallHangStackHandler();

// Beats when constructed and when destroyed: around a collective.
struct BeatScope {
  BeatScope() { Beat(); }
  ~BeatScope() { Beat(); }
  BeatScope(const BeatScope&) = delete;
  BeatScope& operator=(const BeatScope&) = delete;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_HEARTBEAT_H_
