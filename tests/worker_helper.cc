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
//   grandchild            write TORCHELASTIC_ERROR_FILE to $HELPER_DIR/errorfile_<RANK>.path,
//                         fork a grandchild (pid in $HELPER_DIR/grandchild_<RANK>.pid)
//                         that sleeps forever; then sleep forever
//   env                   print "ENV <rank> KEY=VALUE" for every variable; exit 0
//   lines N               write N lines of ~100 bytes to stdout as fast as possible
//   partial               write "no newline at end" without a newline; exit 0
//   fail_until K CODE     print the attempt; rank 0 exits CODE while
//                         TORCHELASTIC_RESTART_COUNT < K, otherwise every rank exits 0
//   error_file MSG        rank 0 writes a torchelastic error file with MSG and exits 1;
//                         other ranks sleep
//   read_stdin            read stdin once and print what read(2) returned; exit 0
//   signals               print each SIGUSR1/SIGUSR2 received and keep running; exit 0
//                         on SIGTERM
//   world_is N            print "world <rank> <WORLD_SIZE> restart <count>"; exit 0 when
//                         WORLD_SIZE is N, else sleep forever (multi-node tests)
//   fail_rank_until R K CODE  print "attempt <rank> <count> world <WORLD_SIZE>"; while
//                         TORCHELASTIC_RESTART_COUNT < K rank R exits CODE (after every
//                         peer started) and the others sleep; then every rank exits 0
//
// Every pid written is also appended to $HELPER_DIR/all.pids (one line each), so a
// test can check that no worker of any attempt is left.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "launcher/error_file.h"

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
  int fd = open((std::string(dir) + "/all.pids").c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) {
    std::string line = std::to_string(static_cast<int>(pid)) + "\n";
    (void)!write(fd, line.data(), line.size());
    close(fd);
  }
}

[[noreturn]] void SleepForever() {
  for (;;) pause();
}

bool Selected(int argc, char** argv, int index) {
  if (argc <= index) return true;
  if (strcmp(argv[index], "others_ignore_term") == 0) return true;
  return atoi(argv[index]) == Rank();
}

// Unselected ranks: set up (ignore SIGTERM if asked), then announce and sleep.
[[noreturn]] void Other(int argc, char** argv) {
  if (strcmp(argv[argc - 1], "others_ignore_term") == 0) signal(SIGTERM, SIG_IGN);
  WritePidFile("worker", getpid());
  SleepForever();
}

// Selected ranks: announce, then wait until every peer has announced itself, so
// a test can always see (and check the end of) every worker it started.
void AnnounceAndWaitForPeers() {
  WritePidFile("worker", getpid());
  const char* dir = getenv("HELPER_DIR");
  const char* ws = getenv("WORLD_SIZE");
  if (dir == nullptr || ws == nullptr) return;
  for (int r = 0; r < atoi(ws); ++r) {
    std::string path = std::string(dir) + "/worker_" + std::to_string(r) + ".pid";
    for (int i = 0; i < 60000 && access(path.c_str(), F_OK) != 0; ++i) usleep(1000);
  }
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
  const bool failing_mode = mode == "exit" || mode == "segv" || mode == "sigkill";
  if (!failing_mode && mode != "grandchild" && mode != "ignore_term")
    WritePidFile("worker", getpid());
  if (mode == "exit") {
    if (!Selected(argc, argv, 3)) Other(argc, argv);
    AnnounceAndWaitForPeers();
    for (int i = 1; i <= 12; ++i) fprintf(stderr, "rank %d stderr line %d\n", rank, i);
    return atoi(argv[2]);
  }
  if (mode == "segv") {
    if (!Selected(argc, argv, 2)) Other(argc, argv);
    AnnounceAndWaitForPeers();
    fprintf(stderr, "rank %d about to crash\n", rank);
    raise(SIGSEGV);
    return 1;
  }
  if (mode == "sigkill") {
    if (!Selected(argc, argv, 2)) Other(argc, argv);
    AnnounceAndWaitForPeers();
    raise(SIGKILL);
    return 1;
  }
  if (mode == "sleep") SleepForever();
  if (mode == "ignore_term") {
    signal(SIGTERM, SIG_IGN);
    WritePidFile("worker", getpid());
    SleepForever();
  }
  if (mode == "grandchild") {
    if (const char* dir = getenv("HELPER_DIR")) {
      const char* ef = getenv("TORCHELASTIC_ERROR_FILE");
      std::string path = std::string(dir) + "/errorfile_" + std::to_string(rank) + ".path";
      if (FILE* f = fopen(path.c_str(), "w")) {
        fprintf(f, "%s", ef ? ef : "");
        fclose(f);
      }
    }
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
      const std::string json =
          fabric::launcher::EncodeErrorFile({argv[2], "Traceback (worker_helper)\n", 0});
      fputs(json.c_str(), f);
      fclose(f);
    }
    for (int i = 1; i <= 12; ++i) fprintf(stderr, "trace line %d\n", i);
    return 1;
  }
  if (mode == "signals") {
    // Block the signals and wait with sigsuspend: no lost wake-up between the
    // check and the wait.
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGUSR1);
    sigdelset(&waitmask, SIGUSR2);
    sigdelset(&waitmask, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnSignal;
    sigaction(SIGUSR1, &sa, nullptr);
    sigaction(SIGUSR2, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    printf("rank %d ready\n", rank);
    fflush(stdout);
    for (;;) {
      sigsuspend(&waitmask);
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
  if (mode == "world_is" || mode == "fail_rank_until") {
    const char* rc = getenv("TORCHELASTIC_RESTART_COUNT");
    const char* ws = getenv("WORLD_SIZE");
    const int attempt = rc ? atoi(rc) : -1;
    if (mode == "world_is") {
      printf("world %d %s restart %d\n", rank, ws ? ws : "?", attempt);
      fflush(stdout);
      if (ws != nullptr && atoi(ws) == atoi(argv[2])) return 0;
      SleepForever();
    }
    printf("attempt %d %d world %s\n", rank, attempt, ws ? ws : "?");
    fflush(stdout);
    if (attempt < atoi(argv[3])) {
      if (rank != atoi(argv[2])) SleepForever();
      AnnounceAndWaitForPeers();
      return atoi(argv[4]);
    }
    return 0;
  }
  if (mode == "read_stdin") {
    char buf[64];
    ssize_t n = read(0, buf, sizeof(buf));
    printf("rank %d stdin read returned %zd\n", rank, n);
    return 0;
  }
  fprintf(stderr, "worker_helper: unknown mode %s\n", mode.c_str());
  return 64;
}
