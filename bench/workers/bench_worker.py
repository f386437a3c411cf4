"""The Python twin of bench_worker.cc, run by the repository's .venv/bin/python as
`python -S bench_worker.py MODE [ARG]`, or as `python -u bench_worker.py ...` (how torchrun
and Lightning's `fabric run` start a script, site-packages imported).

Same modes and record format (see bench_worker.cc); imports only os, sys and time
(built in or frozen), so with -S it measures Python's own start-up, not site-packages.
"""
import os
import sys
import time


def main():
    start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if len(sys.argv) < 2:
        sys.stderr.write("usage: bench_worker.py noop|print|sleep SECS|fail-once N\n")
        return 2
    mode = sys.argv[1]
    if mode == "noop":
        return 0
    rank = int(os.environ.get("RANK", "0"))
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))

    def record(event, t_ns):
        path = os.environ.get("BENCH_RECORDS")
        if not path:
            return
        line = "%s %d %d %d %d %s\n" % (event, rank, restart, os.getpid(), t_ns,
                                         os.environ.get("BENCH_T0_NS", "0"))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, line.encode())
        os.close(fd)

    record("start", start_ns)
    os.write(1, b"BENCH_LINE rank=%d restart=%d\n" % (rank, restart))
    if mode == "print":
        return 0
    if mode == "sleep":
        time.sleep(float(sys.argv[2]))
        return 0
    if mode == "fail-once":
        if restart > 0:
            return 0
        if rank != 0:
            time.sleep(120)
            return 0
        workers = int(sys.argv[2])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(os.environ["BENCH_RECORDS"]) as f:
                starts = sum(1 for l in f if l.startswith("start ") and l.split()[2] == "0")
            if starts >= workers:
                break
            time.sleep(0.001)
        record("fail", time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        return 1
    sys.stderr.write("bench_worker.py: unknown mode %r\n" % mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
