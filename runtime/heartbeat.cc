#include "runtime/heartbeat.h"

#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "common/worker_control.h"

namespace fabric::runtime {
namespace {

// The heartbeat file's words (common/worker_control.h): beats, shrinks taken. Null when
// not under fabric-run; the second only when the file is long enough to hold it.
struct Words {
  std::atomic<uint64_t>* word[2] = {nullptr, nullptr};
};

// Set once by OpenHeartbeatFile; read by any thread after.
std::atomic<const Words*> g_words{nullptr};

Words MapWords(const std::string& path) {
  Words w;
  if (path.empty()) return w;
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return w;
  struct stat st {};
  const size_t size = fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
  const size_t end =
      size >= kHeartbeatShrinksOffset + 8 ? kHeartbeatShrinksOffset + 8 : kHeartbeatBeatsOffset + 8;
  void* p = mmap(nullptr, end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return w;
  auto* base = static_cast<char*>(p);
  w.word[0] = reinterpret_cast<std::atomic<uint64_t>*>(base + kHeartbeatBeatsOffset);
  if (end > kHeartbeatShrinksOffset) {
    w.word[1] = reinterpret_cast<std::atomic<uint64_t>*>(base + kHeartbeatShrinksOffset);
  }
  return w;
}

std::atomic<uint64_t>* Word(int i) {
  const Words* w = g_words.load(std::memory_order_acquire);
  return w == nullptr ? nullptr : w->word[i];
}

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

void OpenHeartbeatFile(const std::string& path) {
  static std::once_flag once;
  std::call_once(once, [&] {
    static const Words words = MapWords(path);
    g_words.store(&words, std::memory_order_release);
  });
}

void Beat() {
  if (std::atomic<uint64_t>* c = Word(0)) c->fetch_add(1, std::memory_order_relaxed);
}

void AckShrink() {
  if (std::atomic<uint64_t>* c = Word(1)) c->fetch_add(1, std::memory_order_release);
}

void InstallHangStackHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (Word(0) == nullptr) return;  // not under fabric-run
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
    struct sigaction sa {};
    sa.sa_handler = OnAbort;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGABRT, &sa, nullptr);
  });
}

}  // namespace fabric::runtime
