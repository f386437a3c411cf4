"""The status endpoint's cost: `fabric-run status --json` latency with N ranks on one node, and
the agent's CPU while idle with --metrics-port on and Prometheus-style scrapes once a second.

    bazel build -c opt //launcher:fabric-run
    .venv/bin/python bench/status/status_bench.py [--ranks 64] [--reps 50] [--idle-s 30]

Targets (issue 27): status answers in < 50 ms at 64 ranks on one node; the agent's idle CPU
with metrics on < 1% of one core. No peer has either (torchrun serves no status), so these
are absolute figures of this machine, printed with the machine's core count; the `--json`
latency includes starting the fabric-run client process, as a user's shell would.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FABRIC_RUN = os.path.join(ROOT, "bazel-bin/launcher/fabric-run")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=64)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--idle-s", type=float, default=30)
    a = ap.parse_args()
    if not os.access(FABRIC_RUN, os.X_OK):
        sys.exit(f"status_bench: build first: bazel build -c opt //launcher:fabric-run")
    tmp = tempfile.mkdtemp(prefix="fr-sb-", dir="/tmp")
    env = dict(os.environ, TMPDIR=tmp)
    agent = subprocess.Popen(
        [FABRIC_RUN, "--devices", str(a.ranks), "--metrics-port", "0", "--quiet", "sleep", "600"],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        while port is None:
            line = agent.stderr.readline()
            if not line:
                sys.exit("status_bench: fabric-run ended before serving metrics")
            m = re.search(r"metrics at http://[^:]+:(\d+)/metrics", line)
            if m:
                port = int(m.group(1))
        # Until every rank runs.
        deadline = time.time() + 60
        while time.time() < deadline:
            out = subprocess.run([FABRIC_RUN, "status", "--json"], env=env, capture_output=True,
                                 text=True)
            if out.returncode == 0 and out.stdout.count('"state":"running"') == a.ranks:
                break
            time.sleep(0.2)
        else:
            sys.exit("status_bench: the ranks did not all start")
        lat = []
        for _ in range(a.reps):
            t = time.perf_counter()
            out = subprocess.run([FABRIC_RUN, "status", "--json"], env=env, capture_output=True)
            lat.append((time.perf_counter() - t) * 1000)
            assert out.returncode == 0, out.stderr
        lat.sort()
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        print(f"status --json, {a.ranks} ranks, {a.reps} reps: median {statistics.median(lat):.1f} ms, "
              f"p95 {p95:.1f} ms, max {lat[-1]:.1f} ms (target < 50 ms)")
        # Idle CPU with metrics on: one scrape a second, as Prometheus would.
        c0, t0 = cpu_seconds(agent.pid), time.time()
        while time.time() - t0 < a.idle_s:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            time.sleep(1)
        used = cpu_seconds(agent.pid) - c0
        wall = time.time() - t0
        print(f"agent CPU, idle with a /metrics scrape each second for {wall:.0f} s, {a.ranks} ranks: "
              f"{used:.2f} s = {100 * used / wall:.2f}% of one core (target < 1%); "
              f"machine: {os.cpu_count()} cores")
    finally:
        agent.terminate()
        agent.wait(timeout=60)
        os.rmdir(tmp) if os.path.isdir(tmp) and not os.listdir(tmp) else None


if __name__ == "__main__":
    main()
