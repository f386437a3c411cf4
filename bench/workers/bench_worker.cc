// bench_worker: the native worker the launcher benchmarks run (bench/launcher_bench.py).
//
//   bench_worker MODE [ARG]
//
// MODE:
//   noop          exit 0 at once; records nothing (the no-op job).
//   print         record "start", print one line, exit 0 (cold start).
//   sleep SECS    record "start", print one line, sleep SECS, exit 0 (agent memory/CPU).
//   fail-once N   attempt 0 (TORCHELASTIC_RESTART_COUNT=0): record "start"; rank 0 waits
//                 until all N workers of the attempt recorded "start", records "fail" and
//                 exits 1; the others sleep until the launcher stops them. Attempt >= 1:
//                 record "start", print, exit 0 (restart latency).
//
// A record is one line "EVENT RANK RESTART PID T_NS T0_NS" appended with a single
// write(2) to $BENCH_RECORDS (O_APPEND, so concurrent workers never interleave).
// T_NS is CLOCK_MONOTONIC in nanoseconds, read first thing in main(); T0_NS is
// $BENCH_T0_NS (when the harness exec'd the launcher), or 0. The printed line is
// "BENCH_LINE rank=R restart=K", one write(2) to stdout.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

namespace {

long long NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int EnvInt(const char* name) {
  const char* v = getenv(name);
  return v == nullptr ? 0 : atoi(v);
}

void Record(const char* event, int rank, int restart, long long t_ns) {
  const char* path = getenv("BENCH_RECORDS");
  if (path == nullptr || *path == '\0') return;
  const char* t0 = getenv("BENCH_T0_NS");
  char line[256];
  int n = snprintf(line, sizeof(line), "%s %d %d %d %lld %s\n", event, rank, restart,
                   static_cast<int>(getpid()), t_ns, t0 == nullptr ? "0" : t0);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror("bench_worker: open $BENCH_RECORDS");
    _exit(3);
  }
  if (write(fd, line, n) != n) perror("bench_worker: write $BENCH_RECORDS");
  close(fd);
}

void PrintLine(int rank, int restart) {
  char line[96];
  int n = snprintf(line, sizeof(line), "BENCH_LINE rank=%d restart=%d\n", rank, restart);
  if (write(1, line, n) != n) _exit(4);
}

// Counts "start" records of attempt `restart` in $BENCH_RECORDS.
int CountStarts(int restart) {
  const char* path = getenv("BENCH_RECORDS");
  FILE* f = path == nullptr ? nullptr : fopen(path, "r");
  if (f == nullptr) return 0;
  char event[32];
  int rank, k, pid;
  long long t, t0;
  int count = 0;
  while (fscanf(f, "%31s %d %d %d %lld %lld", event, &rank, &k, &pid, &t, &t0) == 6) {
    if (strcmp(event, "start") == 0 && k == restart) ++count;
  }
  fclose(f);
  return count;
}

void SleepSeconds(double secs) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(secs);
  ts.tv_nsec = static_cast<long>((secs - ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int Usage() {
  fprintf(stderr, "usage: bench_worker noop|print|sleep SECS|fail-once NWORKERS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const long long start_ns = NowNs();
  if (argc < 2) return Usage();
  const char* mode = argv[1];
  if (strcmp(mode, "noop") == 0) return 0;
  const int rank = EnvInt("RANK");
  const int restart = EnvInt("TORCHELASTIC_RESTART_COUNT");
  if (strcmp(mode, "print") == 0) {
    Record("start", rank, restart, start_ns);
    PrintLine(rank, restart);
    return 0;
  }
  if (strcmp(mode, "sleep") == 0 && argc == 3) {
    Record("start", rank, restart, start_ns);
    PrintLine(rank, restart);
    SleepSeconds(atof(argv[2]));
    return 0;
  }
  if (strcmp(mode, "fail-once") == 0 && argc == 3) {
    Record("start", rank, restart, start_ns);
    PrintLine(rank, restart);
    if (restart > 0) return 0;
    if (rank != 0) {
      SleepSeconds(120);  // stopped by the launcher's gang restart
      return 0;
    }
    const int workers = atoi(argv[2]);
    const long long deadline = NowNs() + 20 * 1000000000LL;
    while (CountStarts(0) < workers && NowNs() < deadline) usleep(1000);
    Record("fail", rank, restart, NowNs());
    return 1;
  }
  return Usage();
}
