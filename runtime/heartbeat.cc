#include "runtime/heartbeat.h"

#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/worker_control.h"

namespace fabric::runtime {
namespace {

// Set once by OpenHeartbeatFile; read by any thread after.
std::atomic<HeartbeatWriter*> g_writer{nullptr};

HeartbeatWriter* Writer() { return g_writer.load(std::memory_order_acquire); }

void OnAbort(int sig) {
  static const char kHeader[] = "*** fabric runtime: SIGABRT; stack (most recent call first):\n";
  (void)!write(2, kHeader, sizeof(kHeader) - 1);
  void* frames[48];
  const int n = backtrace(frames, 48);
  // Frames 0 and 1 are this handler and the kernel's signal trampoline.
  if (n > 2) backtrace_symbols_fd(frames + 2, n - 2, 2);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

HeartbeatWriter::HeartbeatWriter(const std::string& path) : path_(path) {
  if (path.empty()) return;
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  const size_t size = fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
  if (size < kHeartbeatBeatsOffset + 8) {  // not even the beats word: nothing to write
    close(fd);
    return;
  }
  // The words this file has: its version decides whether words 3 and 4 are step and total.
  char head[kHeartbeatFileSize];
  const ssize_t n = pread(fd, head, sizeof(head), 0);
  absl::StatusOr<HeartbeatWords> words =
      DecodeHeartbeat(absl::string_view(head, n > 0 ? static_cast<size_t>(n) : 0));
  const bool has_step = words.ok() && words->version >= 2 && size >= kHeartbeatFileSize;
  const size_t end = has_step                              ? kHeartbeatFileSize
                     : size >= kHeartbeatShrinksOffset + 8 ? kHeartbeatShrinksOffset + 8
                                                           : kHeartbeatBeatsOffset + 8;
  void* p = mmap(nullptr, end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return;
  map_ = p;
  map_size_ = end;
  auto* base = static_cast<char*>(p);
  auto at = [base](size_t offset) {
    return reinterpret_cast<std::atomic<uint64_t>*>(base + offset);
  };
  word_[kBeats] = at(kHeartbeatBeatsOffset);
  if (end > kHeartbeatShrinksOffset) word_[kShrinks] = at(kHeartbeatShrinksOffset);
  if (has_step) {
    word_[kStep] = at(kHeartbeatStepOffset);
    word_[kTotal] = at(kHeartbeatTotalOffset);
  }
}

HeartbeatWriter::~HeartbeatWriter() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

void HeartbeatWriter::Beat() {
  if (word_[kBeats] != nullptr) word_[kBeats]->fetch_add(1, std::memory_order_relaxed);
}

void HeartbeatWriter::AckShrink() {
  if (word_[kShrinks] != nullptr) word_[kShrinks]->fetch_add(1, std::memory_order_release);
}

void HeartbeatWriter::SetStep(uint64_t step) {
  if (word_[kStep] != nullptr) word_[kStep]->store(EncodeStepWord(step), std::memory_order_relaxed);
}

void HeartbeatWriter::SetTotalSteps(uint64_t total) {
  if (word_[kTotal] != nullptr) word_[kTotal]->store(total, std::memory_order_relaxed);
}

void OpenHeartbeatFile(const std::string& path) {
  static std::once_flag once;
  std::call_once(once, [&] {
    static HeartbeatWriter* const writer = new HeartbeatWriter(path);  // never unmapped
    g_writer.store(writer, std::memory_order_release);
  });
}

void Beat() {
  if (HeartbeatWriter* w = Writer()) w->Beat();
}

void ReportStep(uint64_t step) {
  if (HeartbeatWriter* w = Writer()) w->SetStep(step);
}

void ReportTotalSteps(uint64_t total) {
  if (HeartbeatWriter* w = Writer()) w->SetTotalSteps(total);
}

void AckShrink() {
  if (HeartbeatWriter* w = Writer()) w->AckShrink();
}

namespace {

int g_stack_fd = -1;  // StackFileFor(heartbeat), open for the dump handler

void OnStackDump(int) {
  const int saved = errno;
  static const char kHeader[] = "*** fabric runtime: live stack (most recent call first):\n";
  if (lseek(g_stack_fd, 0, SEEK_SET) == 0 && ftruncate(g_stack_fd, 0) == 0) {
    (void)!write(g_stack_fd, kHeader, sizeof(kHeader) - 1);
    void* frames[64];
    const int n = backtrace(frames, 64);
    if (n > 2) backtrace_symbols_fd(frames + 2, n - 2, g_stack_fd);  // not this handler's
    (void)!write(g_stack_fd, kStackDumpEnd, sizeof(kStackDumpEnd) - 1);
  }
  errno = saved;
}

}  // namespace

void InstallHangStackHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (Writer() == nullptr || !Writer()->open()) return;  // not under fabric-run
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
    struct sigaction sa {};
    sa.sa_handler = OnAbort;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGABRT, &sa, nullptr);
    // fabric-run stacks (common/worker_control.h, 4): the file first, then the handler.
    g_stack_fd = open(StackFileFor(Writer()->path()).c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (g_stack_fd >= 0) {
      struct sigaction dump {};
      dump.sa_handler = OnStackDump;
      sigemptyset(&dump.sa_mask);
      dump.sa_flags = SA_RESTART;
      sigaction(StackDumpSignal(), &dump, nullptr);
    }
  });
}

}  // namespace fabric::runtime
