#!/usr/bin/env python3
"""Multi-node benchmarks on loopback; writes a markdown table.

  bazel build -c opt //launcher:fabric-run //tests:worker_helper
  .venv/bin/python bench/multinode/multinode_bench.py [--bin-dir bazel-bin]
      [--out bench/multinode/RESULTS.md]

The peers are the repository's .venv (tools/setup.sh makes it): .venv/bin/torchrun
(torch 2.11) and Lightning's .venv/bin/fabric; the Python workers run on .venv/bin/python,
and this script re-executes itself under it.

1. Node-loss stop latency: two agents (fabric-run --num-nodes 2, 2 `sleep` workers
   each) run; we SIGKILL one agent and time, from the kill(2) call, until every worker
   of the other agent has exited. Exits are observed with pidfds (poll(2) wakes when
   the process is gone), so the figure includes: the kernel closing the dead agent's
   TCP connection, the rendezvous noticing the closed session stream, the pushed
   event, the surviving agent's eventfd wake-up, SIGTERM to its workers and their
   exit. Both directions: a client agent killed (the host's workers stop) and the
   host agent killed (the client's workers stop).
2. 2-node job, start to end: 2 agents x 2 workers on loopback, from launching both
   agents until both exited 0: the rendezvous of the two nodes, the workers' start and
   exit, the agents' shutdown. fabric-run (embedded gRPC rendezvous on node 0) against
   torchrun --nnodes 2 --rdzv-backend c10d (its default --monitor-interval) and
   Lightning's `fabric run --num-nodes 2` (torchrun's static rendezvous on
   --main-port). Workers: /bin/true (fabric-run, torchrun --no-python), and the Python
   no-op worker bench/workers/bench_worker.py as `python -u` under all three (the only
   kind `fabric run` runs). Cases are interleaved run by run.
(What the linked-in rendezvous costs a single-node start is measured by
bench/launcher_bench.py against //bench/harness:fabric-run-nogrpc.)
"""
import argparse
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, ".venv")
PYTHON = os.path.join(VENV, "bin", "python")
TORCHRUN = os.path.join(VENV, "bin", "torchrun")
FABRIC_CLI = os.path.join(VENV, "bin", "fabric")
PY_WORKER = os.path.join(ROOT, "bench", "workers", "bench_worker.py")


def use_venv():
    """Every Python here is the repository's .venv (re-executes this script under it)."""
    for p in (PYTHON, TORCHRUN, FABRIC_CLI):
        if not os.access(p, os.X_OK):
            sys.exit("%s is missing: run `bash tools/setup.sh` (it makes .venv with torch "
                     "and lightning)" % os.path.relpath(p, ROOT))
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(PYTHON, [PYTHON, os.path.abspath(__file__)] + sys.argv[1:])


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


def stop_latency(fr, helper, kill_host, runs):
    out = []
    for _ in range(runs):
        d = tempfile.mkdtemp(prefix="mnbench-")
        port = free_port()
        env = dict(os.environ, HELPER_DIR=d)
        common = ["--devices", "2", "--num-nodes", "2", "--main-port", str(port),
                  "--grace-period", "5s", "--quiet"]
        a = subprocess.Popen([fr] + common + ["--node-rank", "0", helper, "sleep"], env=env,
                             stderr=subprocess.DEVNULL)
        b = subprocess.Popen([fr] + common + ["--node-rank", "1", helper, "sleep"], env=env,
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
        shutil.rmtree(d, ignore_errors=True)
    return out


def job_once(cmd_a, cmd_b):
    """Both agents of one 2-node job, launched together; ms until both exited. PORT in
    the command lines becomes a free port; TMPDIR (torchrun's temporary log and error
    files) is a directory deleted afterwards."""
    port = str(free_port())
    scratch = tempfile.mkdtemp(prefix="mnbench-")
    env = dict(os.environ, TMPDIR=scratch)
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    try:
        t0 = time.perf_counter()
        pa = subprocess.Popen([c.replace("PORT", port) for c in cmd_a], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pb = subprocess.Popen([c.replace("PORT", port) for c in cmd_b], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ea, eb = pa.communicate(timeout=180)[1], pb.communicate(timeout=180)[1]
        elapsed = (time.perf_counter() - t0) * 1000
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if pa.returncode != 0 or pb.returncode != 0:
        raise RuntimeError("job failed: %s (%d, %d)\n%s\n%s" % (
            " ".join(cmd_a), pa.returncode, pb.returncode, ea.decode(errors="replace")[-1500:],
            eb.decode(errors="replace")[-1500:]))
    return elapsed


def jobs_interleaved(cases):
    """cases: name -> (cmd for node 0, cmd for node 1, runs). Round robin: run r of
    every case before run r+1 of any, so load changes hit all launchers alike."""
    times = {k: [] for k in cases}
    for r in range(max(c[2] for c in cases.values())):
        for name, (a, b, runs) in cases.items():
            if r < runs:
                times[name].append(job_once(a, b))
    return times


def row(name, xs):
    return "| %s | %d | %.1f | %.1f | %.1f |" % (name, len(xs), statistics.median(xs), min(xs),
                                                max(xs))


def versions():
    out = subprocess.run([PYTHON, "-c", "import torch, lightning; "
                          "print(torch.__version__, lightning.__version__)"],
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return out if len(out) == 2 else ["?", "?"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "bazel-bin"),
                    help="where Bazel put launcher/fabric-run and tests/worker_helper")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/multinode/RESULTS.md"))
    ap.add_argument("--runs", type=int, default=10,
                    help="runs of each fabric-run measurement (the peers: a third, >= 3)")
    ap.add_argument("--peer-runs", type=int, default=0,
                    help="runs of each torchrun / `fabric run` job (default: runs / 3, >= 3)")
    ap.add_argument("--no-torchrun", action="store_true")
    ap.add_argument("--no-lightning", action="store_true", help="skip Lightning's fabric run")
    args = ap.parse_args()
    use_venv()
    b = os.path.abspath(args.bin_dir)
    fr = os.path.join(b, "launcher/fabric-run")
    helper = os.path.join(b, "tests/worker_helper")
    for p in (fr, helper):
        if not os.access(p, os.X_OK):
            sys.exit("missing %s: build //launcher:fabric-run //tests:worker_helper, or pass "
                     "--bin-dir" % p)
    torch_version, lightning_version = versions()
    peer_runs = args.peer_runs or max(3, args.runs // 3)
    lines = ["# Multi-node benchmarks (loopback, %s, %d CPUs, load %.1f)" %
             (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
              os.getloadavg()[0]), "",
             "Method: bench/multinode/multinode_bench.py (docstring). Times in ms. Peers from "
             "the repository's .venv, in the same run: torchrun from PyTorch %s, Lightning %s's "
             "`fabric run`. Earlier figures against torchrun 1.13: "
             "bench/history/torch-1.13/multinode.md (history only)." %
             (torch_version, lightning_version), "",
             "| measurement | runs | median | min | max |", "|---|---|---|---|---|"]
    lines.append(row("client agent SIGKILLed -> host's workers all exited",
                     stop_latency(fr, helper, False, args.runs)))
    lines.append(row("host agent SIGKILLed -> client's workers all exited",
                     stop_latency(fr, helper, True, args.runs)))

    py = [PYTHON, "-u", PY_WORKER, "noop"]
    fr_job = lambda rank, worker: [fr, "--devices", "2", "--num-nodes", "2", "--node-rank",
                                   str(rank), "--main-port", "PORT", "--"] + worker
    tr_job = lambda rank, worker: [TORCHRUN, "--nnodes", "2", "--nproc-per-node", "2",
                                   "--rdzv-backend", "c10d", "--rdzv-endpoint",
                                   "127.0.0.1:PORT", "--rdzv-id", "bench-PORT",
                                   "--no-python"] + worker
    lt_job = lambda rank: [FABRIC_CLI, "run", "--accelerator", "cpu", "--devices", "2",
                           "--num-nodes", "2", "--node-rank", str(rank), "--main-address",
                           "127.0.0.1", "--main-port", "PORT", PY_WORKER, "noop"]
    T, L_ = "torchrun %s" % torch_version.split("+")[0], "`fabric run` (Lightning %s)" % \
        lightning_version
    cases = {("fabric-run", "/bin/true"): (fr_job(0, ["/bin/true"]),
                                           fr_job(1, ["/bin/true"]), args.runs),
             ("fabric-run", "python -u"): (fr_job(0, py), fr_job(1, py), args.runs)}
    if not args.no_torchrun:
        cases[(T, "/bin/true")] = (tr_job(0, ["/bin/true"]), tr_job(1, ["/bin/true"]),
                                   peer_runs)
        cases[(T, "python -u")] = (tr_job(0, py), tr_job(1, py), peer_runs)
    if not args.no_lightning:
        cases[(L_, "python -u")] = (lt_job(0), lt_job(1), peer_runs)
    jobs = jobs_interleaved(cases)
    for (launcher, worker), xs in jobs.items():
        lines.append(row("%s, 2 nodes x 2 workers `%s`, start to both exited" %
                         (launcher, "python -u bench_worker.py noop" if worker == "python -u"
                          else worker), xs))

    # The 2-node job side by side: peer / fabric-run, ratio of medians, same workers.
    lines += ["", "2-node job (section 2 above), side by side: median ms, and how many times "
              "longer the peer took than fabric-run with the same workers.", "",
              "| workers | fabric-run | %s | %s | %s / fabric-run | %s / fabric-run |" %
              (T, L_, T, L_), "|---|---|---|---|---|---|"]
    med = lambda key: statistics.median(jobs[key]) if key in jobs else None
    cell = lambda v: "n/a" if v is None else "%.1f" % v
    for worker in ("/bin/true", "python -u"):
        f, t, l = med(("fabric-run", worker)), med((T, worker)), med((L_, worker))
        ratio = lambda p: "n/a" if p is None or not f else "%.1fx" % (p / f)
        lines.append("| `%s` | %s | %s | %s | %s | %s |" % (
            worker if worker == "/bin/true" else "python -u bench_worker.py noop", cell(f),
            cell(t), "n/a (runs only a .py script)" if worker == "/bin/true" else cell(l),
            ratio(t), ratio(l)))
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    if os.path.abspath(args.out) == os.path.join(ROOT, "bench/multinode/RESULTS.md"):
        subprocess.run([PYTHON, os.path.join(ROOT, "bench/assemble_results.py")], check=True)


if __name__ == "__main__":
    main()
