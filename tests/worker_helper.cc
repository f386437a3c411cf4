// worker_helper: a tiny multi-mode worker for the launcher's integration tests.
//
//   worker_helper MODE [ARGS...]
//
// Every mode first writes its pid to $HELPER_DIR/worker_<RANK>.pid (when HELPER_DIR
// is set) so tests can check liveness. "Selected" ranks are those equal to the
// optional RANK argument (all ranks when absent); unselected ranks sleep forever
// (ignoring SIGTERM when the last argument is "others_ignore_term").
//
//   exit CODE [RANK]      selected ranks write 12 stderr lines and exit CODE
//   segv [RANK]           selected ranks die of SIGSEGV
//   sigkill [RANK]        selected ranks SIGKILL themselves (looks like the OOM killer)
//   sleep                 sleep forever
//   ignore_term           ignore SIGTERM, sleep forever
//   grandchild            fork a grandchild (pid in $HELPER_DIR/grandchild_<RANK>.pid)
//                         that sleeps forever; then sleep forever
//   env                   print "ENV <rank> KEY=VALUE" for every variable; exit 0
//   lines N               write N lines of ~100 bytes to stdout as fast as possible
//   partial               write "no newline at end" without a newline; exit 0
//   fail_until K CODE     print the attempt; rank 0 exits CODE while
//                         TORCHELASTIC_RESTART_COUNT < K, otherwise every rank exits 0
//   error_file MSG        rank 0 writes a torchelastic error file with MSG and exits 1;
//                         other ranks sleep
//   signals               print each SIGUSR1/SIGUSR2 received and keep running; exit 0
//                         on SIGTERM
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern char** environ;

namespace {

int Rank() {
  const char* r = getenv("RANK");
  return r ? atoi(r) : -1;
}

void WritePidFile(const char* what, pid_t pid) {
  const char* dir = getenv("HELPER_DIR");
  if (dir == nullptr) return;
  std::string path = std::string(dir) + "/" + what + "_" + std::to_string(Rank()) + ".pid";
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) return;
  fprintf(f, "%d\n", static_cast<int>(pid));
  fclose(f);
  rename(tmp.c_str(), path.c_str());
}

[[noreturn]] void SleepForever() {
  for (;;) pause();
}

bool Selected(int argc, char** argv, int index) {
  if (argc <= index) return true;
  if (strcmp(argv[index], "others_ignore_term") == 0) return true;
  return atoi(argv[index]) == Rank();
}

[[noreturn]] void Other(int argc, char** argv) {
  if (strcmp(argv[argc - 1], "others_ignore_term") == 0) signal(SIGTERM, SIG_IGN);
  SleepForever();
}

volatile sig_atomic_t got_signal = 0;
void OnSignal(int sig) { got_signal = sig; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: worker_helper MODE [ARGS...]\n");
    return 64;
  }
  const std::string mode = argv[1];
  const int rank = Rank();
  if (mode != "grandchild") WritePidFile("worker", getpid());
  if (mode == "exit") {
    if (!Selected(argc, argv, 3)) Other(argc, argv);
    for (int i = 1; i <= 12; ++i) fprintf(stderr, "rank %d stderr line %d\n", rank, i);
    return atoi(argv[2]);
  }
  if (mode == "segv") {
    if (!Selected(argc, argv, 2)) Other(argc, argv);
    fprintf(stderr, "rank %d about to crash\n", rank);
    raise(SIGSEGV);
    return 1;
  }
  if (mode == "sigkill") {
    if (!Selected(argc, argv, 2)) Other(argc, argv);
    raise(SIGKILL);
    return 1;
  }
  if (mode == "sleep") SleepForever();
  if (mode == "ignore_term") {
    signal(SIGTERM, SIG_IGN);
    SleepForever();
  }
  if (mode == "grandchild") {
    pid_t child = fork();
    if (child == 0) {
      WritePidFile("grandchild", getpid());
      SleepForever();
    }
    WritePidFile("worker", getpid());
    SleepForever();
  }
  if (mode == "env") {
    std::string out;
    for (char** e = environ; *e != nullptr; ++e) {
      out += "ENV " + std::to_string(rank) + " " + *e + "\n";
    }
    fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (mode == "lines") {
    const long n = argc > 2 ? atol(argv[2]) : 10000;
    static char buf[1 << 13];
    setvbuf(stdout, buf, _IOFBF, sizeof(buf));  // flushes cut lines at arbitrary points
    const std::string pad(64, 'x');
    for (long i = 0; i < n; ++i) printf("rank %d line %ld %s\n", rank, i, pad.c_str());
    return 0;
  }
  if (mode == "partial") {
    printf("no newline at end");
    return 0;
  }
  if (mode == "fail_until") {
    const char* rc = getenv("TORCHELASTIC_RESTART_COUNT");
    const int attempt = rc ? atoi(rc) : -1;
    printf("attempt %d port %s\n", attempt, getenv("MASTER_PORT"));
    fflush(stdout);
    if (attempt < atoi(argv[2])) {
      if (rank == 0) return atoi(argv[3]);
      SleepForever();
    }
    return 0;
  }
  if (mode == "error_file") {
    if (rank != 0) SleepForever();
    const char* path = getenv("TORCHELASTIC_ERROR_FILE");
    if (path != nullptr) {
      FILE* f = fopen(path, "w");
      fprintf(f, "{\"message\": {\"message\": \"%s\", \"extraInfo\": {\"timestamp\": \"0\"}}}\n",
              argv[2]);
      fclose(f);
    }
    for (int i = 1; i <= 12; ++i) fprintf(stderr, "trace line %d\n", i);
    return 1;
  }
  if (mode == "signals") {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnSignal;
    sigaction(SIGUSR1, &sa, nullptr);
    sigaction(SIGUSR2, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    printf("rank %d ready\n", rank);
    fflush(stdout);
    for (;;) {
      pause();
      int sig = got_signal;
      got_signal = 0;
      if (sig == SIGTERM) {
        printf("rank %d got SIGTERM\n", rank);
        return 0;
      }
      if (sig != 0) printf("rank %d got %s\n", rank, sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2");
      fflush(stdout);
    }
  }
  fprintf(stderr, "worker_helper: unknown mode %s\n", mode.c_str());
  return 64;
}
