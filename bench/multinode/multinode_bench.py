#!/usr/bin/python3
"""Multi-node benchmarks on loopback; writes a markdown table.

  bazel build //launcher:fabric-run //tests:worker_helper
  /usr/bin/python3 bench/multinode/multinode_bench.py [--out bench/multinode/RESULTS.md]

1. Node-loss stop latency: two agents (fabric-run --num-nodes 2, 2 `sleep` workers
   each) run; we SIGKILL one agent and time, from the kill(2) call, until every worker
   of the other agent has exited. Exits are observed with pidfds (poll(2) wakes when
   the process is gone), so the figure includes: the kernel closing the dead agent's
   TCP connection, the rendezvous noticing the closed session stream, the pushed
   event, the surviving agent's eventfd wake-up, SIGTERM to its workers and their
   exit. Both directions: a client agent killed (the host's workers stop) and the
   host agent killed (the client's workers stop).
2. Multi-node job start to end: 2 agents x 2 workers of /bin/true, from launching
   both agents until both exited 0; vs torchrun --nnodes 2 --rdzv_backend c10d
   (--redirects 1 --tee 1, --monitor_interval 0.1, --no_python /bin/true).
3. Single-node start-up with and without gRPC linked: `fabric-run --version` and a
   2-worker no-op job, fabric-run (no gRPC) vs fabric-run-multinode (same main,
   rendezvous linked), interleaved.
"""
import argparse
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "bazel-bin")
FR = os.path.join(BIN, "launcher/fabric-run")
FRM = os.path.join(BIN, "launcher/fabric-run-multinode")
HELPER = os.path.join(BIN, "tests/worker_helper")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_files(paths, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if all(os.path.exists(p) for p in paths):
            return True
        time.sleep(0.005)
    return False


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


def stop_latency(kill_host, runs):
    out = []
    for _ in range(runs):
        d = tempfile.mkdtemp(prefix="mnbench-")
        port = free_port()
        env = dict(os.environ, HELPER_DIR=d)
        common = ["--devices", "2", "--num-nodes", "2", "--main-port", str(port),
                  "--grace-period", "5s", "--quiet"]
        a = subprocess.Popen([FR] + common + ["--node-rank", "0", HELPER, "sleep"], env=env,
                             stderr=subprocess.DEVNULL)
        b = subprocess.Popen([FR] + common + ["--node-rank", "1", HELPER, "sleep"], env=env,
                             stderr=subprocess.DEVNULL)
        files = [os.path.join(d, "worker_%d.pid" % r) for r in range(4)]
        if not wait_files(files):
            raise RuntimeError("workers did not start")
        victim, survivor_ranks = (a, [2, 3]) if kill_host else (b, [0, 1])
        fds = [os.pidfd_open(read_pid(files[r])) for r in survivor_ranks]
        t0 = time.perf_counter()
        victim.send_signal(signal.SIGKILL)
        pending = set(fds)
        while pending:
            r, _, _ = select.select(list(pending), [], [], 30)
            if not r:
                raise RuntimeError("survivor's workers did not stop within 30 s")
            pending -= set(r)
        out.append((time.perf_counter() - t0) * 1000)
        for fd in fds:
            os.close(fd)
        for p in (a, b):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return out


def job_start(cmd_a, cmd_b, runs, env=None):
    out = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        pa = subprocess.Popen([c.replace("PORT", str(port)) for c in cmd_a], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pb = subprocess.Popen([c.replace("PORT", str(port)) for c in cmd_b], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ra, rb = pa.wait(120), pb.wait(120)
        out.append((time.perf_counter() - t0) * 1000)
        if ra != 0 or rb != 0:
            raise RuntimeError("job failed: %s %s (%d, %d)" % (cmd_a, cmd_b, ra, rb))
    return out


def interleaved(cmds, runs):
    times = {k: [] for k in cmds}
    for _ in range(runs):
        for k, c in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[k].append((time.perf_counter() - t0) * 1000)
    return times


def row(name, xs):
    return "| %s | %d | %.1f | %.1f | %.1f |" % (name, len(xs), statistics.median(xs), min(xs),
                                                max(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/multinode/RESULTS.md"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--no-torchrun", action="store_true")
    args = ap.parse_args()
    lines = ["# Multi-node benchmarks (loopback, %s, %d CPUs, load %.1f)" %
             (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
              os.getloadavg()[0]), "",
             "Method: bench/multinode/multinode_bench.py (docstring). Times in ms.", "",
             "| measurement | runs | median | min | max |", "|---|---|---|---|---|"]
    lines.append(row("client agent SIGKILLed -> host's workers all exited",
                     stop_latency(False, args.runs)))
    lines.append(row("host agent SIGKILLed -> client's workers all exited",
                     stop_latency(True, args.runs)))
    fr = lambda rank: [FR, "--devices", "2", "--num-nodes", "2", "--node-rank", str(rank),
                       "--main-port", "PORT", "/bin/true"]
    lines.append(row("fabric-run 2 agents x 2 workers /bin/true, start to both exited",
                     job_start(fr(0), fr(1), args.runs)))
    if not args.no_torchrun:
        tr = lambda rank: ["/usr/bin/torchrun", "--nnodes", "2", "--nproc_per_node", "2",
                           "--rdzv_backend", "c10d", "--rdzv_endpoint", "127.0.0.1:PORT",
                           "--rdzv_id", "bench", "--redirects", "1", "--tee", "1",
                           "--monitor_interval", "0.1", "--no_python", "/bin/true"]
        lines.append(row("torchrun --nnodes 2 c10d, same job", job_start(tr(0), tr(1),
                                                                           max(3, args.runs // 3))))
    cmds = {
        "fabric-run --version (no gRPC)": [FR, "--version"],
        "fabric-run-multinode --version (gRPC linked)": [FRM, "--version"],
        "fabric-run 2-worker no-op (no gRPC)": [FR, "--devices", "2", "/bin/true"],
        "fabric-run-multinode 2-worker no-op (gRPC linked)": [FRM, "--devices", "2", "/bin/true"],
    }
    for k, v in interleaved(cmds, args.runs * 5).items():
        lines.append(row(k, v))
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
