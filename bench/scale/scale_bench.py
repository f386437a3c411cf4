#!/usr/bin/env python3
"""Scale harness: N real fabric-run agents on loopback, embedded rendezvous and etcd, and
torchrun 2.11 (c10d and etcd backends) beside them; writes bench/scale/RESULTS.md and
bench/scale/scale.svg.

  bazel build -c opt //launcher:fabric-run
  .venv/bin/python bench/scale/scale_bench.py [--quick] [--bin bazel-bin/launcher/fabric-run]

Every agent is `--devices 1` with one worker: a 20-line C program this script compiles
with cc into its scratch directory (one process, no interpreter). The worker writes
"agent pid GROUP_RANK TORCHELASTIC_RESTART_COUNT WORLD_SIZE" into a FIFO the script
reads on a thread (the arrival time of the line is when that worker runs), then waits
in pause(2): SIGTERM ends it, SIGUSR1 makes it exit 1 (the worker failure of (c)).
Stops are seen through pidfds (poll(2) wakes when the worker is gone), opened before
the kill.

Per launcher and N (agents started with subprocess.Popen in a loop, each in its own
session; t = 0 just before the first Popen):
  job A, fixed `--num-nodes N --max-restarts 1`:
    (a) start: time until all N workers wrote their line;
    (c) gang restart: SIGUSR1 to the worker of the agent with node rank N-1 (it exits 1):
        time until every agent's worker is a new process that wrote its line;
    (b) SIGKILL the agent with node rank N-1: per surviving agent, time until its worker
        exited (p50, p99, max over the N-1 survivors; below --num-nodes, every agent
        stops its workers and exits).
  job B, `--num-nodes N/2:N`: SIGKILL node rank 0's agent (embedded: the host of the
    rendezvous, so the survivors stop and exit; etcd: the survivors stop and run again in
    the next round): stop p50/p99/max and, for etcd, time until every survivor runs again.
  job C, `--num-nodes N/2:N`: (d) shrink: SIGKILL node rank N-1's agent: stop p50/p99
    and time until every survivor runs again.
etcd: one member this script starts (free loopback ports, data dir under its scratch
directory, --enable-v2 for torchrun), a fresh --rdzv-id per job; an `etcdctl watch` on
the job's node keys timestamps the victim's key deletion (its lease expiring), so "push"
= survivor's worker stopped minus key deleted (the target: <= 1 s p99 at 256 agents).
torchrun (--nnodes N --nproc-per-node 1 --no-python WORKER): (a) and (b) only (its
agents watch their own workers, not their peers), each capped; "> cap" when not reached.

Every process is started by this script and killed by pid (agents by their process
group, which each agent leads; workers through their pidfds), on error and Ctrl-C too.
"""
import argparse
import collections
import datetime
import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, ".venv")
PYTHON = os.path.join(VENV, "bin", "python")
TORCHRUN = os.path.join(VENV, "bin", "torchrun")
HERE = os.path.join(ROOT, "bench", "scale")

WORKER_C = r"""
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void on_usr1(int s) { (void)s; _exit(1); }
static const char* env(const char* k) { const char* v = getenv(k); return v ? v : "-"; }
int main(void) {
  signal(SIGUSR1, on_usr1);
  char b[256];
  int n = snprintf(b, sizeof b, "%s %d %s %s %s\n", env("SCALE_AGENT"), (int)getpid(),
                   env("GROUP_RANK"), env("TORCHELASTIC_RESTART_COUNT"), env("WORLD_SIZE"));
  int fd = open(env("SCALE_FIFO"), O_WRONLY);
  if (fd < 0 || write(fd, b, n) != n) return 3;
  close(fd);
  for (;;) pause();
}
"""

Line = collections.namedtuple("Line", "t agent pid grank restart world")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pct(xs, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100.0 * len(s) + 0.5)) - 1))]


class Harness:
    """The FIFO reader, the processes this script started, and their cleanup."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.fifo = os.path.join(scratch, "workers.fifo")
        os.mkfifo(self.fifo)
        self.fifo_fd = os.open(self.fifo, os.O_RDWR)  # a writer too: never EOF
        self.cv = threading.Condition()
        self.latest = {}    # agent -> Line (its current worker)
        self.pidfds = {}    # worker pid -> pidfd (opened when its line arrives)
        self.procs = []     # Popen of every agent / etcd / etcdctl still to clean up
        self.stop = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while not self.stop:
            try:
                chunk = os.read(self.fifo_fd, 65536)
            except OSError:
                return
            t = time.perf_counter()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with self.cv:
                for raw in lines:
                    f = raw.decode().split()
                    if len(f) != 5 or f[0] == "-":
                        continue
                    ln = Line(t, int(f[0]), int(f[1]), f[2], f[3], f[4])
                    try:
                        self.pidfds[ln.pid] = os.pidfd_open(ln.pid)
                    except OSError:
                        pass  # already gone
                    self.latest[ln.agent] = ln
                self.cv.notify_all()

    def wait_running(self, agents, old_pids, timeout):
        """Waits until every agent in `agents` runs a worker whose pid is not old_pids[a].
        Returns {agent: Line}, or None after timeout."""
        end = time.perf_counter() + timeout
        with self.cv:
            while True:
                got = {a: self.latest.get(a) for a in agents}
                if all(l is not None and l.pid != old_pids.get(a) for a, l in got.items()):
                    return got
                left = end - time.perf_counter()
                if left <= 0:
                    return None
                self.cv.wait(min(left, 0.5))

    def popen(self, cmd, env, log):
        with open(log, "wb") as f:
            p = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def kill_all(self):
        """SIGKILL every live process group this script started, then every worker it saw
        (by pidfd, so never a recycled pid), and reap."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        with self.cv:
            fds, self.pidfds, self.latest = self.pidfds, {}, {}
        for fd in fds.values():
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            os.close(fd)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                pass
        self.procs = [p for p in self.procs if p.returncode is None]


class Etcd:
    def __init__(self, h, data_dir):
        self.client, peer = free_port(), free_port()
        self.endpoint = "127.0.0.1:%d" % self.client
        c, pu = "http://127.0.0.1:%d" % self.client, "http://127.0.0.1:%d" % peer
        self.proc = h.popen(["etcd", "--name", "scale", "--data-dir", data_dir,
                             "--listen-client-urls", c, "--advertise-client-urls", c,
                             "--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
                             "--initial-cluster", "scale=" + pu, "--initial-cluster-state",
                             "new", "--enable-v2=true", "--logger", "zap",
                             "--log-level", "warn"], dict(os.environ),
                            os.path.join(h.scratch, "etcd.log"))
        h.procs.remove(self.proc)  # outlives every job's kill_all; stopped in main
        end = time.time() + 20
        while time.time() < end:
            try:
                with urllib.request.urlopen(c + "/health", timeout=1) as r:
                    if json.load(r).get("health") == "true":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("etcd did not become healthy; see %s/etcd.log" % h.scratch)

    def watch_deletes(self, h, prefix, log):
        """etcdctl watch on prefix: returns a list that gets (time, key) per DELETE."""
        out = []
        p = subprocess.Popen(["etcdctl", "--endpoints", self.endpoint, "watch", "--prefix",
                              prefix], env=dict(os.environ, ETCDCTL_API="3"),
                             stdout=subprocess.PIPE, stderr=open(log, "wb"),
                             stdin=subprocess.DEVNULL, start_new_session=True)
        h.procs.append(p)

        def read():
            lines = iter(p.stdout.readline, b"")
            for ln in lines:
                if ln.strip() == b"DELETE":
                    key = next(lines, b"").strip().decode()
                    out.append((time.perf_counter(), key))
        threading.Thread(target=read, daemon=True).start()
        time.sleep(0.3)  # the watch is set up well before any lease can expire
        return out


def cpu_of(pid):
    """utime + stime of a live process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Bench:
    def __init__(self, args, h, worker, etcd):
        self.a, self.h, self.worker, self.etcd = args, h, worker, etcd
        self.seq = 0
        self.failed = []  # the directories of jobs that did not reach their end
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("FABRIC_", "TORCHELASTIC_")) and k not in
                    ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}

    def cmd(self, launcher, n, spec, restarts, rid, port, i):
        a = self.a
        if launcher == "embedded":
            return [a.bin, "--devices", "1", "--num-nodes", spec, "--node-rank", str(i),
                    "--main-address", "127.0.0.1", "--main-port", str(port),
                    "--max-restarts", str(restarts), "--keepalive-timeout", a.ttl,
                    "--grace-period", "5s", "--quiet", self.worker]
        if launcher == "etcd":
            return [a.bin, "--devices", "1", "--num-nodes", spec, "--rdzv-backend", "etcd",
                    "--rdzv-endpoint", self.etcd.endpoint, "--rdzv-id", rid,
                    "--max-restarts", str(restarts), "--keepalive-timeout", a.ttl,
                    "--grace-period", "5s", "--quiet", self.worker]
        backend = launcher.split(" ")[1]
        endpoint = self.etcd.endpoint if backend.startswith("etcd") else "127.0.0.1:%d" % port
        return [TORCHRUN, "--nnodes", spec, "--nproc-per-node", "1", "--rdzv-backend", backend,
                "--rdzv-endpoint", endpoint, "--rdzv-id", rid, "--no-python", self.worker]

    def start(self, launcher, n, spec, restarts, cap):
        """Starts n agents; returns (job dict, {agent: Line}) once every worker runs."""
        self.seq += 1
        rid = "scale-%d-%d-%d" % (os.getpid(), self.seq, n)
        d = os.path.join(self.h.scratch, "%s-%d-%d" % (launcher.replace(" ", "-"), n, self.seq))
        os.makedirs(d)
        port = free_port()
        env = dict(self.env, SCALE_FIFO=self.h.fifo, TMPDIR=d)
        job = {"dir": d, "rid": rid, "agents": []}
        t0 = time.perf_counter()
        base = self.seq * 10000  # a worker's agent key: job and agent index
        for i in range(n):
            env["SCALE_AGENT"] = str(base + i)
            job["agents"].append(self.h.popen(self.cmd(launcher, n, spec, restarts, rid, port, i),
                                              env, os.path.join(d, "agent-%d.log" % i)))
        lines = self.h.wait_running(range(base, base + n), {}, cap)
        if lines is None:
            return job, None, cap
        return job, lines, max(l.t for l in lines.values()) - t0

    def kill_agent(self, job, lines, victim_rank, cap, rerun, watch=None):
        """SIGKILLs the agent whose worker has GROUP_RANK victim_rank; returns
        (stop times of the survivors, rerun times or None, key-deleted time or None)."""
        victim = next(a for a, l in lines.items() if l.grank == str(victim_rank))
        survivors = [a for a in lines if a != victim]
        old = {a: lines[a].pid for a in survivors}
        fds, stops = {}, {}
        for a in survivors:
            try:
                fds[os.pidfd_open(old[a])] = a
            except OSError:
                stops[a] = 0.0  # gone before the kill (not seen so far)
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        victim_pid = job["agents"][victim % 10000].pid
        t_kill = time.perf_counter()
        os.kill(victim_pid, signal.SIGKILL)
        while len(stops) < len(survivors):
            left = cap - (time.perf_counter() - t_kill)
            if left <= 0:
                break
            ev = poller.poll(min(left, 1.0) * 1000)
            t = time.perf_counter() - t_kill
            for fd, _ in ev:
                stops[fds[fd]] = t
                poller.unregister(fd)
        for fd in fds:
            os.close(fd)
        again = None
        if rerun:
            got = self.h.wait_running(survivors, old, max(1.0, cap - (time.perf_counter() -
                                                                        t_kill)))
            again = None if got is None else {a: l.t - t_kill for a, l in got.items()}
        deleted = None
        if watch is not None:
            for t, key in list(watch):
                if key.endswith(":%d" % victim_pid):
                    deleted = t - t_kill
                    break
        return list(stops.values()), len(survivors), again, deleted

    def gang_restart(self, lines, victim_rank, cap):
        victim = next(a for a, l in lines.items() if l.grank == str(victim_rank))
        old = {a: l.pid for a, l in lines.items()}
        t = time.perf_counter()
        os.kill(lines[victim].pid, signal.SIGUSR1)
        got = self.h.wait_running(list(lines), old, cap)
        return None if got is None else (max(l.t for l in got.values()) - t, got)

    def finish(self, job, ok):
        self.h.kill_all()
        if ok and not self.a.keep:
            shutil.rmtree(job["dir"], ignore_errors=True)
        elif not ok:
            self.failed.append(job["dir"])
            print("  (logs kept in %s)" % job["dir"], flush=True)

    # -- one launcher at one N ------------------------------------------------------

    def fabric(self, launcher, n):
        r = {}
        cap_start = 30 + n * 0.25
        cap = 30 + float(self.a.ttl.rstrip("s")) * 2 + n * 0.05
        etcd = launcher == "etcd"
        # (a): the median of --reps starts (the last one is job A's).
        starts = []
        for _ in range(max(0, self.a.reps - 1)):
            job, lines, t = self.start(launcher, n, str(n), 1, cap_start)
            self.finish(job, lines is not None)
            if lines is None:
                return {"start": None}
            starts.append(t)
        # job A: fixed N, one restart: (a) start, (c) gang restart, (b) kill rank N-1.
        job, lines, t = self.start(launcher, n, str(n), 1, cap_start)
        ok = lines is not None
        if ok:
            starts.append(t)
            r["start"] = statistics.median(starts)
            r["starts"] = starts
            g = self.gang_restart(lines, n - 1, cap)
            ok = g is not None
            if ok:
                r["restart"], lines = g
                w = self.etcd.watch_deletes(self.h, "/fabric-run/%s/node/" % job["rid"],
                                            os.path.join(job["dir"], "watch.log")) if etcd else None
                stops, ns, _, deleted = self.kill_agent(job, lines, n - 1, cap, False, w)
                r["kill"] = (stops, ns, deleted)
        else:
            r["start"] = None
        self.finish(job, ok)
        if not ok:
            return r
        half = "%d:%d" % (max(1, n // 2), n)
        # job B: elastic, kill node rank 0's agent.
        job, lines, t = self.start(launcher, n, half, 0, cap_start)
        if lines is not None:
            w = self.etcd.watch_deletes(self.h, "/fabric-run/%s/node/" % job["rid"],
                                        os.path.join(job["dir"], "watch.log")) if etcd else None
            stops, ns, again, deleted = self.kill_agent(job, lines, 0, cap, etcd, w)
            r["kill0"] = (stops, ns, deleted, again)
        self.finish(job, lines is not None and (not etcd or again is not None))
        # job C: elastic, shrink: kill node rank N-1's agent.
        job, lines, t = self.start(launcher, n, half, 0, cap_start)
        if lines is not None:
            w = self.etcd.watch_deletes(self.h, "/fabric-run/%s/node/" % job["rid"],
                                        os.path.join(job["dir"], "watch.log")) if etcd else None
            stops, ns, again, deleted = self.kill_agent(job, lines, n - 1, cap, True, w)
            r["shrink"] = (stops, ns, deleted, again)
        self.finish(job, lines is not None and again is not None)
        return r

    def torchrun(self, launcher, n):
        r = {}
        job, lines, t = self.start(launcher, n, str(n), 0, self.a.torchrun_cap)
        r["start"] = t if lines is not None else None
        if lines is not None:
            stops, ns, _, _ = self.kill_agent(job, lines, n - 1, self.a.torchrun_stop_cap, False)
            r["kill"] = (stops, ns, None)
            r["stop_cap"] = self.a.torchrun_stop_cap
        self.finish(job, lines is not None)
        return r


# -- report ----------------------------------------------------------------------

def fmt(v):
    return "n/a" if v is None else ("%.3f" % v if v < 1 else "%.2f" % v if v < 10 else
                                    "%.1f" % v)


def stop_cell(k, cap):
    """(stops, survivors, ...) -> 'p50 / p99 / max' in s, '> cap' where some never stopped."""
    if k is None:
        return "n/a"
    stops, ns = k[0], k[1]
    if len(stops) < ns:
        return "> %.0f (%d of %d stopped)" % (cap, len(stops), ns)
    return "%s / %s / %s" % (fmt(pct(stops, 50)), fmt(pct(stops, 99)), fmt(max(stops)))


def ratio(x, y):
    return "n/a" if x is None or y is None or y <= 0 else "%.2fx" % (x / y)


def p99(k):
    return None if k is None or len(k[0]) < k[1] else pct(k[0], 99)


def rerun_max(k):
    return None if k is None or k[3] is None else max(k[3].values())


def push_p99(k):
    """Survivors' stop minus the victim's key deletion (etcd), p99."""
    if k is None or k[2] is None or len(k[0]) < k[1]:
        return None
    return pct([s - k[2] for s in k[0]], 99)


def svg_plot(path, series, title_ylabel):
    """series: [(name, color, [(N, seconds)])]; log-log axes; hand-written SVG."""
    import math
    W, H, L, R, T, B = 720, 420, 70, 170, 30, 50
    pts = [(n, v) for _, _, s in series for n, v in s if v]
    if not pts:
        return
    xs = [math.log2(n) for n, _ in pts]
    ylo = math.floor(math.log10(min(v for _, v in pts)))
    yhi = math.ceil(math.log10(max(v for _, v in pts)))
    yhi = max(yhi, ylo + 1)
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    X = lambda n: L + (math.log2(n) - x0) / max(1, x1 - x0) * (W - L - R)
    Y = lambda v: H - B - (math.log10(v) - ylo) / (yhi - ylo) * (H - T - B)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif"'
         ' font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="18" font-size="14">%s</text>' % (L, title_ylabel)]
    for e in range(ylo, yhi + 1):
        y = Y(10 ** e)
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, y, W - R, y))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%g s</text>' % (L - 6, y + 4, 10 ** e))
    for e in range(x0, x1 + 1):
        x = X(2 ** e)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, T, x, H - B))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x, H - B + 16, 2 ** e))
    o.append('<text x="%d" y="%d" text-anchor="middle">agents (N)</text>' %
             ((L + W - R) // 2, H - 12))
    for k, (name, color, s) in enumerate(series):
        s = [(n, v) for n, v in s if v]
        if not s:
            continue
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
            color, " ".join("%.1f,%.1f" % (X(n), Y(v)) for n, v in s)))
        for n, v in s:
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (X(n), Y(v), color))
        ly = T + 16 * k + 10
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' %
                 (W - R + 10, ly, W - R + 30, ly, color))
        o.append('<text x="%d" y="%d">%s</text>' % (W - R + 35, ly + 4, name))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def report(args, res, ns, tns, meta):
    E, C = "embedded", "etcd"
    TC, TE = "torchrun c10d", "torchrun %s" % args.torchrun_etcd_backend
    g = lambda l, n, k: res.get((l, n), {}).get(k)
    ttl = float(args.ttl.rstrip("s"))
    allns = sorted(set(ns) | set(tns))
    L = ["# Scale: N fabric-run agents on loopback, embedded rendezvous vs etcd, torchrun beside",
         "", "%s, `nproc` %d, %.1f GiB RAM, load average at start %s; fabric-run %s; torch %s; "
         "etcd %s (one member, loopback)." % (meta["date"], os.cpu_count(), meta["ram"],
                                               meta["load0"], meta["bin"], meta["torch"],
                                               meta["etcd"]), "",
         "Command: `%s`" % meta["cmd"], "",
         "Method: bench/scale/scale_bench.py (docstring). Each agent `--devices 1`, one C worker "
         "that reports on a FIFO when it runs and waits in pause(2). Times in seconds, one job "
         "per cell. `--keepalive-timeout %s` (= the etcd lease TTL), `--last-call-timeout` 1 s "
         "(default), `--grace-period 5s`. (a): median of %d starts (all: raw.json). Load average at the end: %s; wall time %.0f s." %
         (args.ttl, args.reps, meta["load1"], meta["wall"]), ""]
    # (a)
    L += ["## (a) Start: all N workers running (fixed `--num-nodes N`)", "",
          "| N | embedded | etcd | etcd / embedded | %s | %s | %s / fabric-run etcd |" %
          (TC, TE, TE), "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in allns:
        e, c, tc, te = g(E, n, "start"), g(C, n, "start"), g(TC, n, "start"), g(TE, n, "start")
        L.append("| %d | %s | %s | %s | %s | %s | %s |" % (
            n, fmt(e), fmt(c), ratio(c, e), fmt(tc) if (TC, n) in res else "not run",
            fmt(te) if (TE, n) in res else "not run", ratio(te, c)))
    # (b)
    L += ["", "## (b) One agent SIGKILLed (node rank N-1; fixed `--num-nodes N`, so below MIN): "
          "every other agent's worker stopped", "",
          "p50 / p99 / max over the N-1 survivors, from the kill(2). etcd: the loss is the "
          "victim's lease expiring (TTL %s after its last renewal, which is 0 to TTL/3 before "
          "the kill); \"push\" = p99 of (survivor's worker stopped - victim's key deleted in "
          "etcd, seen by an `etcdctl watch`). torchrun: capped at %.0f s." % (
              args.ttl, args.torchrun_stop_cap), "",
          "| N | embedded | etcd | etcd push p99 | etcd p99 / embedded p99 | %s | %s |" % (TC, TE),
          "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in allns:
        ke, kc = g(E, n, "kill"), g(C, n, "kill")
        L.append("| %d | %s | %s | %s | %s | %s | %s |" % (
            n, stop_cell(ke, 0), stop_cell(kc, 0), fmt(push_p99(kc)), ratio(p99(kc), p99(ke)),
            stop_cell(g(TC, n, "kill"), args.torchrun_stop_cap) if (TC, n) in res else "not run",
            stop_cell(g(TE, n, "kill"), args.torchrun_stop_cap) if (TE, n) in res else "not run"))
    L += ["", "## (b') Node rank 0's agent SIGKILLed (`--num-nodes N/2:N`)", "",
          "embedded: node 0 hosts the rendezvous, so the survivors stop and exit (the job is "
          "over). etcd: the survivors stop, and run again in the next round without node 0 "
          "(target: running again <= TTL + 2 s = %.0f s)." % (ttl + 2), "",
          "| N | embedded: stopped p50 / p99 / max | etcd: node 0's key deleted | etcd: stopped "
          "p50 / p99 / max | etcd push p99 | etcd: all survivors running again | <= TTL + 2 s |",
          "|---:|---:|---:|---:|---:|---:|---|"]
    for n in ns:
        ke, kc = g(E, n, "kill0"), g(C, n, "kill0")
        rr = rerun_max(kc)
        L.append("| %d | %s | %s | %s | %s | %s | %s |" % (
            n, stop_cell(ke, 0), fmt(kc and kc[2]), stop_cell(kc, 0), fmt(push_p99(kc)), fmt(rr),
            "n/a" if rr is None else ("yes" if rr <= ttl + 2 else "no (%.2f s)" % rr)))
    L += ["", "## (c) Gang restart: one worker exits 1 (`--max-restarts 1`): every agent's "
          "worker running again", "", "| N | embedded | etcd | etcd / embedded |",
          "|---:|---:|---:|---:|"]
    for n in ns:
        e, c = g(E, n, "restart"), g(C, n, "restart")
        L.append("| %d | %s | %s | %s |" % (n, fmt(e), fmt(c), ratio(c, e)))
    L += ["", "## (d) Shrink (`--num-nodes N/2:N`, node rank N-1's agent SIGKILLed): survivors "
          "stopped, and running again", "",
          "| N | embedded: stopped p50 / p99 | embedded: running again | etcd: stopped p50 / "
          "p99 | etcd push p99 | etcd: running again | etcd / embedded (running again) |",
          "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        ke, kc = g(E, n, "shrink"), g(C, n, "shrink")
        two = lambda k: "n/a" if k is None or len(k[0]) < k[1] else "%s / %s" % (
            fmt(pct(k[0], 50)), fmt(pct(k[0], 99)))
        L.append("| %d | %s | %s | %s | %s | %s | %s |" % (
            n, two(ke), fmt(rerun_max(ke)), two(kc), fmt(push_p99(kc)), fmt(rerun_max(kc)),
            ratio(rerun_max(kc), rerun_max(ke))))
    L += ["", "## CPU spent per cell (all jobs of one launcher at one N)", "",
          "Agents and workers (reaped children of this script) and the etcd member, in CPU "
          "seconds, against the cell's wall time (2 cores = 2 CPU s per s).", "",
          "| N | embedded: agents | embedded: wall | etcd: agents | etcd: etcd member | etcd: wall |",
          "|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        ce, cc = g(E, n, "cpu"), g(C, n, "cpu")
        L.append("| %d | %s | %s | %s | %s | %s |" % (
            n, fmt(ce and ce[0]), fmt(ce and ce[2]), fmt(cc and cc[0]), fmt(cc and cc[1]),
            fmt(cc and cc[2])))
    # targets
    L += ["", "## Targets (issue 26)", ""]
    worst = [(n, g(C, n, "start") / g(E, n, "start")) for n in ns
             if g(C, n, "start") and g(E, n, "start")]
    if worst:
        bad = [(n, r) for n, r in worst if r > 1.5]
        L.append("- etcd within 1.5x of embedded at every N, start (a): %s (ratios %s)." % (
            "met" if not bad else "NOT met at N = %s" % ", ".join("%d (%.2fx)" % b for b in bad),
            ", ".join("%d: %.2fx" % w for w in worst)))
    rs = [(n, g(C, n, "restart") / g(E, n, "restart")) for n in ns
          if g(C, n, "restart") and g(E, n, "restart")]
    if rs:
        bad = [(n, r) for n, r in rs if r > 1.5]
        L.append("- the same for the gang restart (c): %s (ratios %s)." % (
            "met" if not bad else "NOT met at N = %s" % ", ".join("%d (%.2fx)" % b for b in bad),
            ", ".join("%d: %.2fx" % w for w in rs)))
    L.append("- a lost agent (b) on etcd costs the lease TTL by design (the embedded rendezvous "
             "sees a closed TCP stream at once), so etcd/embedded there is not a like-for-like "
             "ratio; the pushed part is below.")
    mx = max([n for n in ns if g(C, n, "start")] or [0])
    L.append("- etcd reaches N = 512: %s (largest N run: %d)." % (
        "met" if mx >= 512 else "NOT met", mx))
    k0 = [(n, rerun_max(g(C, n, "kill0"))) for n in ns]
    k0 = [(n, v) for n, v in k0 if v is not None]
    if k0:
        bad = [(n, v) for n, v in k0 if v > ttl + 2]
        L.append("- node 0 lost -> survivors running in the next round <= TTL + 2 s (%.0f s): "
                 "%s (%s)." % (ttl + 2, "met" if not bad else "NOT met at N = %s" % ", ".join(
                     "%d (%.2f s)" % b for b in bad), ", ".join("%d: %.2f s" % x for x in k0)))
    pp = [v for v in (push_p99(g(C, 256, k)) for k in ("kill", "kill0", "shrink")) if v is not None]
    if pp:
        L.append("- a failure pushed to every agent <= 1 s p99 at 256 agents (etcd; key deleted "
                 "-> worker stopped): %s (worst p99 of the three kills %.2f s)." % (
                     "met" if max(pp) <= 1 else "NOT met", max(pp)))
    both = [n for n in tns if g(TE, n, "start") and g(C, n, "start")]
    if both:
        rr = [(n, g(TE, n, "start") / g(C, n, "start")) for n in both]
        bad = [x for x in rr if x[1] < 10]
        L.append("- at least 10x torchrun's etcd backend (%s), start (a), at the N both reach: "
                 "%s (%s)." % (args.torchrun_etcd_backend, "met" if not bad else "NOT met at "
                               "N = %s" % ", ".join("%d (%.1fx)" % b for b in bad),
                               ", ".join("%d: %.1fx" % x for x in rr)))
        kk = [(n, g(TE, n, "kill")) for n in both]
        L.append("- (b) torchrun %s: survivors' workers stopped within %.0f s of one agent's "
                 "SIGKILL: %s; fabric-run etcd: max %s s." % (
                     args.torchrun_etcd_backend, args.torchrun_stop_cap, ", ".join(
                         "N=%d %s" % (n, "no" if k is None or len(k[0]) < k[1] else "yes")
                         for n, k in kk), "/".join(fmt(max(g(C, n, "kill")[0]))
                                                   for n in both if g(C, n, "kill"))))
    if meta.get("notes"):
        L += ["", "## Notes", ""] + ["- " + x for x in meta["notes"]]
    text = "\n".join(L) + "\n"
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "raw.json"), "w") as f:
        json.dump({"%s N=%d" % k: v for k, v in res.items()}, f, default=str)
    with open(os.path.join(args.out_dir, "RESULTS.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    colors = {E: "#1f77b4", C: "#d62728", TC: "#7f7f7f", TE: "#ff7f0e"}
    series = [(l, colors[l], [(n, g(l, n, "start")) for n in allns]) for l in (E, C, TC, TE)]
    svg_plot(os.path.join(args.out_dir, "scale.svg"), series,
             "(a) start: all N workers running (s), loopback, %d CPUs" % os.cpu_count())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "bazel-bin/launcher/fabric-run"))
    ap.add_argument("--quick", action="store_true", help="N = 16, 64; torchrun at N = 4")
    ap.add_argument("--ns", default="", help="fabric-run's N list (default 8,16,64,128,256,512)")
    ap.add_argument("--torchrun-ns", default="", help="torchrun's N list (default 4,8,16)")
    ap.add_argument("--no-torchrun", action="store_true")
    ap.add_argument("--torchrun-etcd-backend", default="etcd", choices=["etcd", "etcd-v2"])
    ap.add_argument("--torchrun-cap", type=float, default=120,
                    help="s for torchrun's agents to start every worker")
    ap.add_argument("--torchrun-stop-cap", type=float, default=30,
                    help="s to wait for torchrun's survivors to stop after the kill")
    ap.add_argument("--reps", type=int, default=3, help="starts per fabric-run (a) cell (median)")
    ap.add_argument("--launchers", default="embedded,etcd", help="fabric-run's backends to run")
    ap.add_argument("--ttl", default="5s", help="--keepalive-timeout (etcd's lease TTL)")
    ap.add_argument("--out-dir", default=HERE)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV) and os.access(PYTHON, os.X_OK):
        os.execv(PYTHON, [PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        sys.exit("missing %s: bazel build -c opt //launcher:fabric-run, or pass --bin" % args.bin)
    ns = [int(x) for x in args.ns.split(",")] if args.ns else (
        [16, 64] if args.quick else [8, 16, 64, 128, 256, 512])
    tns = [] if args.no_torchrun else ([int(x) for x in args.torchrun_ns.split(",")]
                                       if args.torchrun_ns else ([4] if args.quick else [4, 8, 16]))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 8 * max(ns):
        print("warning: RLIMIT_NOFILE %d may be too low for N = %d" % (hard, max(ns)))
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    notes = ["ephemeral ports %d-%d (%d); RLIMIT_NOFILE raised to %d." % (lo, hi, hi - lo, hard)]

    scratch = tempfile.mkdtemp(prefix="fabric-scale-")
    h = Harness(scratch)
    etcd = None
    wall0 = time.time()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load0": "%.2f %.2f %.2f" % os.getloadavg(),
            "ram": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30,
            "cmd": ".venv/bin/python bench/scale/scale_bench.py " + " ".join(sys.argv[1:]),
            "notes": notes}

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    ok, b = False, None
    try:
        worker = os.path.join(scratch, "scale_worker")
        with open(worker + ".c", "w") as f:
            f.write(WORKER_C)
        subprocess.run(["cc", "-O2", "-o", worker, worker + ".c"], check=True)
        etcd = Etcd(h, os.path.join(scratch, "etcd-data"))
        meta["etcd"] = subprocess.run(["etcd", "--version"], stdout=subprocess.PIPE,
                                      text=True).stdout.split("\n")[0].split()[-1]
        meta["bin"] = subprocess.run([args.bin, "--version"], stdout=subprocess.PIPE,
                                     text=True).stdout.strip()
        meta["torch"] = subprocess.run([PYTHON, "-c", "import torch; print(torch.__version__)"],
                                       stdout=subprocess.PIPE, text=True).stdout.strip()
        b = Bench(args, h, worker, etcd)
        res = {}
        for n in ns:
            for l in args.launchers.split(","):
                t, c0, e0 = time.time(), children_cpu(), cpu_of(etcd.proc.pid)
                res[(l, n)] = b.fabric(l, n)
                res[(l, n)]["cpu"] = (children_cpu() - c0, cpu_of(etcd.proc.pid) - e0,
                                      time.time() - t)
                print("%-9s N=%-4d %5.1f s  %s" % (l, n, time.time() - t, {
                    k: (round(v, 3) if isinstance(v, float) else "...")
                    for k, v in res[(l, n)].items()}), flush=True)
        for n in tns:
            for l in ("torchrun c10d", "torchrun " + args.torchrun_etcd_backend):
                t = time.time()
                res[(l, n)] = b.torchrun(l, n)
                print("%-14s N=%-3d %5.1f s  start %s" % (l, n, time.time() - t,
                                                          res[(l, n)].get("start")), flush=True)
        meta["load1"] = "%.2f %.2f %.2f" % os.getloadavg()
        meta["wall"] = time.time() - wall0
        report(args, res, ns, tns, meta)
        ok = True
    finally:
        h.kill_all()
        if etcd is not None:
            etcd.proc.kill()
            etcd.proc.wait()
        h.stop = True
        if ok and not args.keep and not b.failed:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print("scratch (logs) kept in %s" % scratch)


if __name__ == "__main__":
    main()
