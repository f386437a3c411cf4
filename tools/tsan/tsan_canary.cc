// A canary for the --config=tsan build (doc/build.md "Sanitizers"), run by
// tsan_canary_test.sh. Two threads hand a counter back and forth 1000 times:
//   tsan_canary mutex  - under an absl::Mutex with CondVar waits: correct, so TSan must
//                        stay silent (it did not while Debian's uninstrumented absl was
//                        linked: every hand-off read as a race);
//   tsan_canary race   - the same counter with no lock at all: TSan must report it.
// Prints "tsan: off" and exits 0 when the binary was not built with ThreadSanitizer.
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/synchronization/mutex.h"

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

namespace {

constexpr int kRounds = 1000;

int WithMutex() {
  absl::Mutex mu;
  absl::CondVar cv;
  int counter = 0;  // guarded by mu; even: main's turn, odd: the other thread's
  std::thread other([&] {
    for (int i = 0; i < kRounds; ++i) {
      absl::MutexLock lock(&mu);
      while (counter % 2 == 0) cv.Wait(&mu);
      ++counter;
      cv.SignalAll();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    absl::MutexLock lock(&mu);
    while (counter % 2 == 1) cv.Wait(&mu);
    ++counter;
    cv.SignalAll();
  }
  other.join();
  std::printf("counter %d\n", counter);
  return counter == 2 * kRounds ? 0 : 1;
}

int Racy() {
  int counter = 0;  // written by both threads with no synchronization
  std::thread other([&] {
    for (int i = 0; i < kRounds; ++i) ++counter;
  });
  for (int i = 0; i < kRounds; ++i) ++counter;
  other.join();
  std::printf("counter %d\n", counter);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!kTsan) {
    std::printf("tsan: off\n");
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "mutex") == 0) return WithMutex();
  if (argc == 2 && std::strcmp(argv[1], "race") == 0) return Racy();
  std::fprintf(stderr, "usage: tsan_canary mutex|race\n");
  return 2;
}
