// ThreadSanitizer's built-in suppressions for --config=tsan binaries (linked into every
// binary that uses absl, through @system//:absl; doc/build.md "Sanitizers").
//
// One entry, a false positive of absl's annotated Mutex: a thread's identity (its
// PerThreadSynch and futex word) is mmap'ed by LowLevelAlloc when the thread first
// blocks, and another thread later wakes it through that word. The hand-off happens
// inside Mutex's own code, where absl's annotations tell TSan to ignore synchronization,
// so TSan pairs the wake-up with the mmap. Only reports with thread-identity creation in
// one of the stacks are suppressed; nothing of ours is allocated there.
extern "C" const char* __tsan_default_suppressions() {
  return "race:absl::*::synchronization_internal::CreateThreadIdentity\n";
}
