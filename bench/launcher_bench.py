#!/usr/bin/env python3
"""Launcher benchmarks: fabric-run against torchrun and Lightning's `fabric run`, side by side.

The peers come from the repository's .venv (made by tools/setup.sh): .venv/bin/torchrun
(torch 2.11) and .venv/bin/fabric (Lightning's CLI); every Python worker runs on
.venv/bin/python, and this script re-executes itself under it. Run through bench/run.sh
(which builds the binaries with -c opt first), or directly:
  .venv/bin/python bench/launcher_bench.py [--quick] [--bin-dir bazel-out/k8-opt/bin]

Benchmarks (doc/bench.md has the methodology):
  startup   the launcher's own start (`fabric-run --version`) and the exec floor.
  cold      launch -> every worker has started (and: its first line reached the console).
  noop      wall time of a job whose workers exit 0 at once, against spawn_baseline.
  restart   a worker fails -> every worker of the next attempt has started.
  idle      the agent's resident memory and CPU while its workers sleep.

Every configuration is run repeatedly, interleaved with the others (round robin), and
summarised by min and median. Writes bench/results/launcher.md (the table),
bench/results/launcher.json (every sample) and bench/results/launcher_cold_start.svg,
then bench/assemble_results.py rebuilds bench/RESULTS.md. The figures against Debian's
torchrun 1.13 are history: bench/history/torch-1.13/.
"""
import argparse
import datetime
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, ".venv")
PYTHON = os.path.join(VENV, "bin", "python")
TORCHRUN = os.path.join(VENV, "bin", "torchrun")
FABRIC_CLI = os.path.join(VENV, "bin", "fabric")  # Lightning's CLI: `fabric run`


def use_venv():
    """Every Python this benchmark runs is the repository's .venv: the peers, the Python
    workers and this script (re-executed under .venv/bin/python when started otherwise)."""
    for p in (PYTHON, TORCHRUN, FABRIC_CLI):
        if not os.access(p, os.X_OK):
            sys.exit("%s is missing: run `bash tools/setup.sh` (it makes .venv with torch "
                     "and lightning)" % os.path.relpath(p, ROOT))
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(PYTHON, [PYTHON, os.path.abspath(__file__)] + sys.argv[1:])


class Paths:
    def __init__(self, bin_dir):
        b = os.path.abspath(bin_dir)
        self.fabric_run = os.path.join(b, "launcher/fabric-run")
        # Made by bench/relink_fabric_run.sh (an experiment: the same objects, linked
        # fully statically), when present.
        self.fabric_run_static = os.path.join(HERE, "out/variants/fabric-run-static")
        # fabric-run's main without the rendezvous (gRPC) linked in: what one binary
        # costs at start-up (//bench/harness:fabric-run-nogrpc).
        self.fabric_run_nogrpc = os.path.join(b, "bench/harness/fabric-run-nogrpc")
        self.timed_run = os.path.join(b, "bench/harness/timed_run")
        self.spawn_baseline = os.path.join(b, "bench/harness/spawn_baseline")
        self.native_worker = os.path.join(b, "bench/workers/bench_worker")
        self.python_worker = os.path.join(HERE, "workers/bench_worker.py")

    def check(self, need_fabric):
        for p in (self.timed_run, self.spawn_baseline, self.native_worker):
            if not os.access(p, os.X_OK):
                sys.exit("missing %s: build with `bazel build -c opt //bench/...` "
                         "(bench/run.sh does)" % p)
        if need_fabric and not os.access(self.fabric_run, os.X_OK):
            sys.exit("missing %s: build //launcher:fabric-run, or pass --no-fabric" %
                     self.fabric_run)


# ---------------------------------------------------------------------------------
# Launcher command lines.

LAUNCHERS = {
    # name: label in tables (the peers' labels get their versions in main())
    "baseline": "spawn baseline",
    "baseline-fork": "spawn baseline, fork + wait for exec",
    "fabric-run": "fabric-run",
    "fabric-run-static": "fabric-run relinked static (experiment)",
    "fabric-run-nogrpc": "fabric-run without the rendezvous linked (one-binary cost)",
    "torchrun": "torchrun",
    "lightning": "`fabric run`",
}
PEERS = ("torchrun", "lightning")
SIDE = ("baseline-fork", "fabric-run-static", "fabric-run-nogrpc")  # side experiments: native workers only

# The same bench_worker under every launcher. "python" is exactly how torchrun and
# Lightning's `fabric run` start a script (`sys.executable -u SCRIPT`, site-packages
# imported), the only kind `fabric run` can run; "python-S" skips site, so it measures
# the interpreter's own start-up.
KINDS = {"native": "native", "python-S": "python -S", "python": "python -u"}


def runs_kind(launcher, kind):
    if launcher == "lightning":
        return kind == "python"
    if launcher in SIDE:
        return kind == "native"
    return True


def worker_argv(paths, kind, mode_args):
    if kind == "native":
        return [paths.native_worker] + mode_args
    return [PYTHON, "-S" if kind == "python-S" else "-u", paths.python_worker] + mode_args


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def launcher_argv(paths, launcher, n, worker, max_restarts, scratch):
    if launcher == "baseline":
        return [paths.spawn_baseline, str(n)] + worker
    if launcher == "baseline-fork":
        return [paths.spawn_baseline, "--fork-wait", str(n)] + worker
    if launcher.startswith("fabric-run"):
        binary = {"fabric-run-static": paths.fabric_run_static,
                  "fabric-run-nogrpc": paths.fabric_run_nogrpc}.get(launcher, paths.fabric_run)
        return [binary, "--devices", str(n), "--max-restarts", str(max_restarts),
                "--grace-period", "5s", "--"] + worker
    if launcher == "torchrun":
        # torch 2.x: dash flags; workers inherit its stdout (no --redirects/--tee, which
        # 1.13 needed on Python 3.11); its default --monitor-interval (0.1 s in 2.x).
        return [TORCHRUN, "--standalone", "--nproc-per-node", str(n),
                "--max-restarts", str(max_restarts),
                "--log-dir", os.path.join(scratch, "torchrun_logs"), "--no-python"] + worker
    # Lightning's `fabric run`: sets LT_* and calls torchrun's main in-process, which
    # starts `sys.executable -u SCRIPT ARGS` (= the "python" kind); no restart option.
    # A free --main-port each run (its default 29400 would collide between runs).
    assert launcher == "lightning" and worker[:2] == [PYTHON, "-u"] and max_restarts == 0
    return [FABRIC_CLI, "run", "--accelerator", "cpu", "--devices", str(n),
            "--main-port", str(free_port())] + worker[2:]


# ---------------------------------------------------------------------------------
# One measured run.

def clean_env(records, scratch):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BENCH_", "FABRIC_", "TORCHELASTIC_", "LT_")) and
           k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["BENCH_RECORDS"] = records
    # torchrun makes temporary directories (error files; `fabric run`'s logs): keep them
    # in the sample's scratch directory, which is deleted afterwards.
    env["TMPDIR"] = scratch
    return env


def read_records(path):
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 6:
                    recs.append({"event": p[0], "rank": int(p[1]), "restart": int(p[2]),
                                 "pid": int(p[3]), "t": int(p[4]), "t0": int(p[5])})
    return recs


def timed(paths, argv, records, timeout=120):
    """Runs argv under timed_run; returns (timing dict, worker records, log text)."""
    scratch = os.path.dirname(records)
    log = os.path.join(scratch, "output.log")
    out = subprocess.run([paths.timed_run, "--timeout", str(timeout), "--log", log, "--"] +
                         argv, env=clean_env(records, scratch), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, check=True).stdout
    t = {"lines": []}
    for line in out.splitlines():
        p = line.split()
        if p[0] == "t0":
            t["t0"] = int(p[1])
        elif p[0] == "line":
            t["lines"].append(int(p[1]))
        elif p[0] == "exit":
            t["exit"], t["status"] = int(p[1]), int(p[2])
        elif p[0] == "timeout":
            t["exit"], t["status"] = int(p[1]), "timeout"
    with open(log, errors="replace") as f:
        text = f.read()
    return t, read_records(records), text


class RunError(Exception):
    pass


def run_case(paths, bench, case):
    """Runs one sample of `case`; returns a dict of measurements in ms (or bytes)."""
    scratch = tempfile.mkdtemp(prefix="fabric-bench-")
    records = os.path.join(scratch, "records")
    try:
        return BENCHES[bench](paths, case, scratch, records)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ms(ns):
    return ns / 1e6


def expect(cond, what, text):
    if not cond:
        raise RunError("%s\n--- output ---\n%s" % (what, text[-2000:]))


STARTUP_CMDS = ["fabric-run --version", "fabric-run --version, relinked static (experiment)",
                "fabric-run --version, without the rendezvous linked (one-binary cost)",
                "bench_worker noop (exec floor)", "python -S (noop worker)",
                "python -u (noop worker, site imported)", "spawn_baseline 1 noop"]


def bench_startup(paths, case, scratch, records):
    argv = {"fabric-run --version": [paths.fabric_run, "--version"],
            "fabric-run --version, relinked static (experiment)":
                [paths.fabric_run_static, "--version"],
            "fabric-run --version, without the rendezvous linked (one-binary cost)":
                [paths.fabric_run_nogrpc, "--version"],
            "bench_worker noop (exec floor)": [paths.native_worker, "noop"],
            "python -S (noop worker)": worker_argv(paths, "python-S", ["noop"]),
            "python -u (noop worker, site imported)": worker_argv(paths, "python", ["noop"]),
            "spawn_baseline 1 noop": [paths.spawn_baseline, "1", paths.native_worker,
                                      "noop"]}[case["cmd"]]
    t, _, text = timed(paths, argv, records)
    expect(t["status"] == 0, "%s failed" % case["cmd"], text)
    return {"wall": ms(t["exit"] - t["t0"])}


def bench_cold(paths, case, scratch, records):
    n = case["n"]
    argv = launcher_argv(paths, case["launcher"], n,
                         worker_argv(paths, case["kind"], ["print"]), 0, scratch)
    t, recs, text = timed(paths, argv, records)
    starts = [r["t"] for r in recs if r["event"] == "start"]
    expect(t["status"] == 0 and len(starts) == n,
           "cold start: want %d starts and exit 0, got %d, %r" % (n, len(starts),
                                                                 t["status"]), text)
    expect(all(r["t0"] == t["t0"] for r in recs), "cold start: t0 did not reach workers",
           text)
    out = {"start": ms(max(starts) - t["t0"]), "first_start": ms(min(starts) - t["t0"]),
           "wall": ms(t["exit"] - t["t0"])}
    if len(t["lines"]) >= n:
        out["console"] = ms(sorted(t["lines"])[n - 1] - t["t0"])
    return out


def bench_noop(paths, case, scratch, records):
    argv = launcher_argv(paths, case["launcher"], case["n"],
                         worker_argv(paths, case["kind"], ["noop"]), 0, scratch)
    t, _, text = timed(paths, argv, records)
    expect(t["status"] == 0, "noop job failed: %r" % t["status"], text)
    return {"wall": ms(t["exit"] - t["t0"])}


def bench_restart(paths, case, scratch, records):
    n = case["n"]
    argv = launcher_argv(paths, case["launcher"], n,
                         worker_argv(paths, case["kind"], ["fail-once", str(n)]), 1, scratch)
    t, recs, text = timed(paths, argv, records)
    fails = [r["t"] for r in recs if r["event"] == "fail"]
    again = [r["t"] for r in recs if r["event"] == "start" and r["restart"] == 1]
    expect(t["status"] == 0 and len(fails) == 1 and len(again) == n,
           "restart: want exit 0, 1 failure, %d restarted workers; got %r, %d, %d" %
           (n, t["status"], len(fails), len(again)), text)
    return {"recover": ms(max(again) - fails[0]),
            "first_restarted": ms(min(again) - fails[0]),
            "wall": ms(t["exit"] - t["t0"])}


def proc_tree(root):
    """pid -> ppid for root and its descendants."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                parents[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for c, pp in parents.items():
            if pp == p and c not in tree:
                tree.add(c)
                frontier.append(c)
    return tree


def proc_sample(pid):
    """(VmRSS bytes, utime+stime ticks, context switches of all threads) of one pid."""
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    switches = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt")):
                        switches += int(line.split()[1])
        except OSError:
            pass
    return rss, ticks, switches


def bench_idle(paths, case, scratch, records, window=2.0, sleep_s=4.0):
    """The launcher's own processes while n workers sleep: the launcher and every
    descendant that is not a worker (a worker is a pid that wrote a start record; the
    Python workers are the interpreter itself, so their pid is the worker's)."""
    n = case["n"]
    argv = launcher_argv(paths, case["launcher"], n,
                         worker_argv(paths, case["kind"], ["sleep", str(sleep_s)]), 0,
                         scratch)
    log = open(os.path.join(scratch, "output.log"), "w+")
    proc = subprocess.Popen(argv, env=clean_env(records, scratch), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len([r for r in read_records(records) if r["event"] == "start"]) == n:
                break
            time.sleep(0.005)
        workers = {r["pid"] for r in read_records(records)}
        time.sleep(0.2)  # let the last worker's line be forwarded
        agents = sorted(proc_tree(proc.pid) - workers)
        before = {p: proc_sample(p) for p in agents}
        time.sleep(window)
        after = {p: proc_sample(p) for p in agents if os.path.exists("/proc/%d" % p)}
        all_asleep = len(workers) == n and proc.poll() is None
    finally:
        proc.wait(timeout=120)
        log.seek(0)
        text = log.read()
        log.close()
    expect(all_asleep and proc.returncode == 0,
           "idle: workers did not all start, or the job failed (%r)" % proc.returncode, text)
    hz = os.sysconf("SC_CLK_TCK")
    return {"rss_mb": sum(s[0] for s in before.values()) / 2**20,
            "agent_rss_mb": before[proc.pid][0] / 2**20,
            "cpu_ms": sum(after[p][1] - before[p][1] for p in after) * 1000.0 / hz / window,
            "wakeups": sum(after[p][2] - before[p][2] for p in after) / window,
            "processes": len(agents)}


BENCHES = {"startup": bench_startup, "cold": bench_cold, "noop": bench_noop,
           "restart": bench_restart, "idle": bench_idle}


# ---------------------------------------------------------------------------------
# The plan: which cases, how many repetitions each.

SWEEP = [1, 2, 4, 8, 16, 32]  # cold start, for the plot
TABLE = (2, 8)                # cold start and restart sizes in the tables
NOOP = (2, 8, 32)
RESTARTABLE = ["fabric-run", "torchrun"]  # `fabric run` has no restart option
# Idle agent: the launcher does not depend on what its workers are; `fabric run` can only
# run Python workers, so fabric-run and torchrun are measured with both kinds.
IDLE = [("fabric-run", "native"), ("torchrun", "native"), ("fabric-run", "python"),
        ("torchrun", "python"), ("lightning", "python")]


def plan(quick, launchers, reps_override=None, peer_reps_override=None):
    """Returns [(bench, case, reps)] for the given launchers (keys of LAUNCHERS)."""
    fr = reps_override or (3 if quick else 20)  # fabric-run and the baselines: cheap
    # torchrun and `fabric run`: seconds per run (each imports torch)
    peer = peer_reps_override or (2 if quick else 5)
    reps = {l: peer if l in PEERS else fr for l in launchers}
    out = []
    cmds = [c for c in STARTUP_CMDS
            if not (c.startswith("fabric-run --version, relinked") and
                    "fabric-run-static" not in launchers) and
            not (c.startswith("fabric-run --version, without") and
                 "fabric-run-nogrpc" not in launchers) and
            not (c == "fabric-run --version" and "fabric-run" not in launchers)]
    for cmd in cmds:
        out.append(("startup", {"cmd": cmd}, fr))
    sweep = list(TABLE) if quick else SWEEP
    for kind in KINDS:
        for n in sweep:
            for l in launchers:
                if not runs_kind(l, kind) or (l in SIDE and n not in TABLE):
                    continue  # side experiments: native workers, table sizes only
                r = reps[l] if n in TABLE else max(2, reps[l] // 2)
                out.append(("cold", {"launcher": l, "kind": kind, "n": n}, r))
    for n in NOOP:
        for kind in ("native", "python"):
            for l in launchers:
                if runs_kind(l, kind):
                    out.append(("noop", {"launcher": l, "kind": kind, "n": n}, reps[l]))
    for n in TABLE:
        for l in RESTARTABLE:
            if l in launchers:
                r = max(1, reps[l] // 2) if l == "fabric-run" else reps[l]
                out.append(("restart", {"launcher": l, "kind": "native", "n": n}, r))
    for l, kind in IDLE:
        if l in launchers:
            out.append(("idle", {"launcher": l, "kind": kind, "n": 8}, min(reps[l], 5)))
    return out


def case_key(bench, case):
    return bench + ":" + ",".join("%s=%s" % kv for kv in sorted(case.items()))


def run_all(paths, items, log):
    """Round robin: repetition r of every case before repetition r+1 of any."""
    samples = {case_key(b, c): [] for b, c, _ in items}
    errors = {}
    for r in range(max(reps for _, _, reps in items)):
        for bench, case, reps in items:
            key = case_key(bench, case)
            if r >= reps or errors.get(key, 0) >= 2:
                continue
            try:
                samples[key].append(run_case(paths, bench, case))
            except (RunError, subprocess.SubprocessError) as e:
                errors[key] = errors.get(key, 0) + 1
                log("FAILED %s: %s" % (key, e))
        log("round %d done" % (r + 1))
    return samples, errors


# ---------------------------------------------------------------------------------
# Summaries.

def stat(samples, key, metric):
    vals = [s[metric] for s in samples.get(key, []) if metric in s]
    if not vals:
        return None
    return {"min": min(vals), "median": statistics.median(vals), "n": len(vals)}


def fmt(st, unit="ms", digits=None):
    if st is None:
        return "n/a"
    def f(v):
        if digits is not None:
            return "%.*f" % (digits, v)
        return "%.2f" % v if v < 10 else "%.1f" % v if v < 100 else "%.0f" % v
    return "%s / %s" % (f(st["min"]), f(st["median"]))


def fx(r):
    return "%.0fx" % r if r >= 100 else "%.1fx" % r if r >= 10 else "%.2fx" % r


def ratio(a, b):
    """'median ratio (min ratio)' of two stats."""
    if a is None or b is None or b["median"] == 0 or b["min"] == 0:
        return "n/a"
    return "%s (min %s)" % (fx(a["median"] / b["median"]), fx(a["min"] / b["min"]))


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def verdict_faster(peer, fr, target, bound=None):
    """Against 'fabric-run is >= target x faster than the peer' (medians): 'met (412x)'
    or '**not met** (41.2x)', with the ratio the spawn baseline allows when not met."""
    if peer is None or fr is None or fr["median"] == 0:
        return "n/a"
    r = peer["median"] / fr["median"]
    if r >= target:
        return "met (%s)" % fx(r)
    extra = ""
    if bound is not None and bound["median"] > 0:
        extra = "; peer / baseline = %s" % fx(peer["median"] / bound["median"])
    return "**not met** (%s%s)" % (fx(r), extra)


def write_markdown(path, samples, errors, meta, launchers):
    S = lambda b, metric, **case: stat(samples, case_key(b, case), metric)
    ran = lambda family: any(k.startswith(family + ":") for k in samples)  # --families
    L = []
    w = L.append
    w("## Launcher: fabric-run vs torchrun %s and Lightning's `fabric run`" % meta["torch"])
    w("")
    w("Generated by `bench/run.sh` (`bench/launcher_bench.py`) on %s; methodology in "
      "doc/bench.md. Cells are **min / median** over interleaved repetitions (count in "
      "the raw data, bench/results/launcher.json); ratios are of medians, with the ratio "
      "of minima in parentheses (on a loaded machine the minima are the better estimate "
      "of a launcher's own cost); verdicts use medians. The machine "
      "is shared and noisy (%s CPUs, load average %s at the start, %s at the end): "
      "compare columns of one run, not absolute numbers across runs." %
      (meta["date"], meta["cpus"], meta["load_start"], meta["load_end"]))
    w("")
    w("fabric-run %s (commit %s). Peers from the repository's .venv, run in the same "
      "session, interleaved: torchrun from PyTorch %s (default `--monitor-interval` %s s) "
      "and Lightning %s's `fabric run` (`--accelerator cpu`); Python %s; kernel %s. "
      "Earlier figures against Debian's torchrun 1.13: bench/history/torch-1.13/ "
      "(history only)." %
      (meta["fabric_version"], meta["commit"], meta["torch_full"], meta["monitor_interval"],
       meta["lightning"], meta["python"], meta["kernel"]))
    w("")
    w("Workers: *native* = the C++ bench_worker; *python -u* = `.venv/bin/python -u "
      "bench_worker.py`, exactly how torchrun and `fabric run` start a script (site-"
      "packages imported), the only kind `fabric run` can run (its column is n/a for "
      "the others); *python -S* = the same without site (the interpreter's own start-up). "
      "Every launcher runs the same worker command line.")
    w("")

    if ran("startup"):
        write_startup(w, S)
    if ran("cold"):
        write_cold(w, S, samples, launchers)
    if ran("noop"):
        write_noop(w, S, samples, launchers)
    if ran("restart"):
        write_restart(w, S, launchers)
    if ran("idle"):
        write_idle(w, S, launchers)
    if errors:
        w("Failed samples (left out of the table): " +
          ", ".join("`%s` x%d" % kv for kv in sorted(errors.items())))
        w("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_startup(w, S):
    w("### Start-up of a single command (exec -> exit), ms")
    w("")
    w("| command | min / median |")
    w("|---|---|")
    for cmd in STARTUP_CMDS:
        st = S("startup", "wall", cmd=cmd)
        if st is not None:
            w("| `%s` | %s |" % (cmd, fmt(st)))
    w("")


def write_cold(w, S, samples, launchers):
    label = lambda l: LAUNCHERS[l]
    T, L_ = LAUNCHERS["torchrun"], LAUNCHERS["lightning"]
    cl = [l for l in launchers if any(case_key("cold", {"launcher": l, "kind": k, "n": n})
                                      in samples for k in KINDS for n in TABLE)]
    w("### Cold start: launch -> every worker has started, ms")
    w("")
    w("Worker start = the latest CLOCK_MONOTONIC any worker read first thing in main(), "
      "minus t0 (read by timed_run just before it spawned the launcher). Console = when "
      "the last worker's first line arrived on the launcher's stdout.")
    w("")
    w("| workers | worker |" + "".join(" %s |" % label(l) for l in cl) +
      " %s / fabric-run | %s / fabric-run | %s / baseline (the best any launcher could"
      " do) | fabric-run - baseline | target >= 50x (%s) | target native: within ~3 ms"
      " (over the baseline) |" % (T, L_, T, T))
    w("|---|---|" + "---|" * (len(cl) + 6))
    for kind in KINDS:
        for n in TABLE:
            st = {l: S("cold", "start", launcher=l, kind=kind, n=n) for l in cl}
            fr, base, tr = st.get("fabric-run"), st.get("baseline"), st.get("torchrun")
            over = None if fr is None or base is None else fr["median"] - base["median"]
            ok50 = None if fr is None or tr is None else tr["median"] / fr["median"] >= 50
            ok3 = None if over is None or kind != "native" else over <= 3.0
            w("| %d | %s |" % (n, KINDS[kind]) +
              "".join(" %s |" % fmt(st[l]) for l in cl) +
              " %s | %s | %s | %s | %s | %s |" % (
                  ratio(tr, fr), ratio(st.get("lightning"), fr), ratio(tr, base),
                  "n/a" if over is None else "%+.2f (min %+.2f)" % (
                      over, fr["min"] - base["min"]), verdict(ok50),
                  verdict(ok3) if kind == "native" else ""))
    w("")
    w("Console (last worker line seen on the launcher's stdout), ms:")
    w("")
    w("| workers | worker |" + "".join(" %s |" % label(l) for l in cl))
    w("|---|---|" + "---|" * len(cl))
    for kind in KINDS:
        for n in TABLE:
            w("| %d | %s |" % (n, KINDS[kind]) +
              "".join(" %s |" % fmt(S("cold", "console", launcher=l, kind=kind, n=n))
                      for l in cl))
    w("")
    w("![cold start against workers](results/launcher_cold_start.svg)")
    w("")


def write_noop(w, S, samples, launchers):
    label = lambda l: LAUNCHERS[l]
    T, L_ = LAUNCHERS["torchrun"], LAUNCHERS["lightning"]
    nl = [l for l in launchers if any(case_key("noop", {"launcher": l, "kind": k, "n": n})
                                      in samples for k in KINDS for n in NOOP)]
    w("### No-op job: launch -> launcher exited, ms (workers exit 0 at once)")
    w("")
    w("| workers | worker |" + "".join(" %s |" % label(l) for l in nl) +
      " fabric-run / baseline (target <= 1.2x) | %s / fabric-run | %s / fabric-run |"
      " %s / baseline; %s / baseline (the most any launcher could reach) |" %
      (T, L_, T, L_))
    w("|---|---|" + "---|" * (len(nl) + 4))
    for n in NOOP:
        for kind in ("native", "python"):
            st = {l: S("noop", "wall", launcher=l, kind=kind, n=n) for l in nl}
            fr, base = st.get("fabric-run"), st.get("baseline")
            ok = None if fr is None or base is None else fr["median"] / base["median"] <= 1.2
            w("| %d | %s |" % (n, KINDS[kind]) + "".join(" %s |" % fmt(st[l]) for l in nl) +
              " %s %s | %s | %s | %s; %s |" % (
                  ratio(fr, base), "(%s)" % verdict(ok) if ok is not None else "",
                  ratio(st.get("torchrun"), fr), ratio(st.get("lightning"), fr),
                  ratio(st.get("torchrun"), base), ratio(st.get("lightning"), base)))
    w("")
    if "fabric-run-nogrpc" in nl:
        w("One binary: `fabric-run` links the rendezvous (gRPC) and starts it only for a "
          "multi-node job; `fabric-run-nogrpc` is the same main without it. What linking it "
          "in costs a single-node job (ratio of medians, native workers):")
        w("")
        w("| | fabric-run | without the rendezvous | ratio |")
        w("|---|---|---|---|")
        v = S("startup", "wall", cmd="fabric-run --version")
        vn = S("startup", "wall", cmd="fabric-run --version, without the rendezvous linked "
               "(one-binary cost)")
        w("| `--version` | %s | %s | %s |" % (fmt(v), fmt(vn), ratio(v, vn)))
        for n in NOOP:
            a = S("noop", "wall", launcher="fabric-run", kind="native", n=n)
            b = S("noop", "wall", launcher="fabric-run-nogrpc", kind="native", n=n)
            w("| no-op, %d workers | %s | %s | %s |" % (n, fmt(a), fmt(b), ratio(a, b)))
        w("")
    w("Target: the no-op job >= 100x faster under fabric-run than under each peer, at "
      "every size (ratio of medians, peer / fabric-run, with the worker kind both ran). "
      "Where it is not met, \"peer / baseline\" is the ratio the spawn baseline itself "
      "reaches: with Python workers the workers' own start-up bounds every launcher.")
    w("")
    w("| workers | %s, native workers | %s, python -u workers | %s, python -u workers "
      "(its only kind) |" % (T, T, L_))
    w("|---|---|---|---|")
    for n in NOOP:
        cells = []
        for peer, kind in (("torchrun", "native"), ("torchrun", "python"),
                           ("lightning", "python")):
            cells.append(verdict_faster(S("noop", "wall", launcher=peer, kind=kind, n=n),
                                        S("noop", "wall", launcher="fabric-run", kind=kind,
                                          n=n), 100,
                                        S("noop", "wall", launcher="baseline", kind=kind,
                                          n=n)))
        w("| %d | %s |" % (n, " | ".join(cells)))
    w("")


def write_restart(w, S, launchers):
    label = lambda l: LAUNCHERS[l]
    T, L_ = LAUNCHERS["torchrun"], LAUNCHERS["lightning"]
    w("### Restart: a worker fails -> every worker of the next attempt has started, ms")
    w("")
    w("Rank 0 exits 1 on attempt 0 once every worker has started (the others sleep); "
      "`--max-restarts 1`; native workers. From rank 0's last clock reading to the "
      "latest start of attempt 1.")
    w("")
    rl = [l for l in RESTARTABLE if l in launchers]
    lt = "lightning" in launchers
    w("| workers |" + "".join(" %s |" % label(l) for l in rl) +
      (" %s |" % L_ if lt else "") + " %s / fabric-run | target: fabric-run < 25 ms |" % T)
    w("|---|" + "---|" * (len(rl) + (3 if lt else 2)))
    for n in TABLE:
        st = {l: S("restart", "recover", launcher=l, kind="native", n=n) for l in rl}
        fr = st.get("fabric-run")
        ok = None if fr is None else fr["median"] < 25
        w("| %d |" % n + "".join(" %s |" % fmt(st[l]) for l in rl) +
          (" n/a (no restart option) |" if lt else "") +
          " %s | %s |" % (ratio(st.get("torchrun"), fr), verdict(ok)))
    w("")


def write_idle(w, S, launchers):
    label = lambda l: LAUNCHERS[l]
    w("### Idle agent: 8 workers sleeping, sampled over 2 s")
    w("")
    w("RSS: VmRSS of the launcher and every descendant that is not a worker (the "
      "launcher's own processes: fabric-run and its orphan sentinel; torchrun's and "
      "`fabric run`'s Python process). CPU: utime+stime of those processes (10 ms ticks) "
      "per second of the window. Wake-ups: context switches of all their threads per "
      "second.")
    w("")
    w("| launcher | workers | RSS MB | CPU ms/s | wake-ups/s | processes | target: < 10 MB, "
      "no CPU |")
    w("|---|---|---|---|---|---|---|")
    for l, kind in IDLE:
        if l not in launchers:
            continue
        c = dict(launcher=l, kind=kind, n=8)
        rss, cpu = S("idle", "rss_mb", **c), S("idle", "cpu_ms", **c)
        ok = None
        if l == "fabric-run" and rss is not None:
            ok = rss["median"] < 10 and cpu["median"] == 0
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            label(l), KINDS[kind], fmt(rss, digits=1), fmt(cpu, digits=1),
            fmt(S("idle", "wakeups", **c), digits=1), fmt(S("idle", "processes", **c),
                                                           digits=0),
            verdict(ok) if l == "fabric-run" else ""))
    w("")


def write_plot(path, samples, launchers):
    """Cold start (median, faint: min) against workers, log-log, one panel per worker
    kind, as SVG written here: .venv has no plotting library, and the plot must not
    need another Python."""
    styles = {"baseline": ("#000000", "2,3"), "fabric-run": ("#1f77b4", ""),
              "torchrun": ("#d62728", "7,4"), "lightning": ("#9467bd", "3,2")}
    panels = []
    for kind in KINDS:
        series = []
        for l in launchers:
            if l not in styles:
                continue
            pts = []
            for n in SWEEP:
                st = stat(samples, case_key("cold", {"launcher": l, "kind": kind, "n": n}),
                          "start")
                if st is not None:
                    pts.append((n, st["median"], st["min"]))
            if pts:
                series.append((l, pts))
        if series:
            panels.append((kind, series))
    if not panels:
        return
    vals = [v for _, series in panels for _, pts in series for p in pts for v in p[1:]]
    lo = 10 ** math.floor(math.log10(max(min(vals), 1e-3)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    pw, ph, ml, mt, mb = 330, 260, 60, 30, 40  # panel size, left/top/bottom margins
    width, height = 20 + len(panels) * (ml + pw + 15), mt + ph + mb + 30
    x = lambda i, n: 20 + i * (ml + pw + 15) + ml + pw * math.log2(n) / 5.0
    y = lambda v: mt + ph * (1 - (math.log10(v) - math.log10(lo)) /
                             (math.log10(hi) - math.log10(lo)))
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="11">' % (width, height),
         '<rect width="100%" height="100%" fill="white"/>']
    ticks = [m * 10 ** e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)
             for m in (1, 2, 5) if lo <= m * 10 ** e <= hi]
    for i, (kind, series) in enumerate(panels):
        x0 = x(i, 1)
        o.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="12">%s workers</text>'
                 % (x0 + pw / 2, mt - 10, KINDS[kind] if kind != "native" else "native C++"))
        for t in ticks:
            o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>' %
                     (x0, x0 + pw, y(t), y(t)))
            o.append('<text x="%.1f" y="%.1f" text-anchor="end">%g</text>' %
                     (x0 - 4, y(t) + 4, t))
        for n in SWEEP:
            o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' %
                     (x(i, n), x(i, n), mt, mt + ph))
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' %
                     (x(i, n), mt + ph + 14, n))
        o.append('<rect x="%.1f" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>'
                 % (x0, mt, pw, ph))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">workers</text>' %
                 (x0 + pw / 2, mt + ph + 28))
        for l, pts in series:
            color, dash = styles[l]
            o.append('<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>' %
                     (color, ' stroke-dasharray="%s"' % dash if dash else "",
                      " ".join("%.1f,%.1f" % (x(i, n), y(med)) for n, med, _ in pts)))
            for n, med, mn in pts:
                o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' %
                         (x(i, n), y(med), color))
                o.append('<circle cx="%.1f" cy="%.1f" r="2" fill="%s" opacity="0.35"/>' %
                         (x(i, n), y(mn), color))
    o.append('<text transform="translate(14,%d) rotate(-90)" text-anchor="middle">'
             'ms to every worker started (median; faint: min)</text>' % (mt + ph / 2))
    lx = 20 + ml
    for l in launchers:
        if l in styles and any(l == s for _, series in panels for s, _ in series):
            color, dash = styles[l]
            o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="1.5"%s/>'
                     % (lx, lx + 24, height - 12, height - 12, color,
                        ' stroke-dasharray="%s"' % dash if dash else ""))
            text = LAUNCHERS[l].replace("`", "")
            o.append('<text x="%d" y="%d">%s</text>' % (lx + 30, height - 8, text))
            lx += 40 + 7 * len(text)
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def meta_info(paths, with_fabric):
    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, timeout=120).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    versions = out([PYTHON, "-c",
                    "import torch, lightning\n"
                    "from torch.distributed.run import get_args_parser\n"
                    "print(torch.__version__, lightning.__version__,"
                    " get_args_parser().get_default('monitor_interval'))"]).split()
    if len(versions) != 3:
        versions = ["?", "?", "?"]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load_start": "%.1f" % os.getloadavg()[0],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "torch_full": versions[0],
        "torch": versions[0].split("+")[0],
        "lightning": versions[1],
        "monitor_interval": versions[2],
        "commit": out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "fabric_version": out([paths.fabric_run, "--version"]).replace("fabric-run ", "")
        if with_fabric else "(not built)",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "bazel-out/k8-opt/bin"),
                    help="where bazel build -c opt put the binaries")
    ap.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    ap.add_argument("--no-fabric", action="store_true", help="measure the peers only")
    ap.add_argument("--no-torchrun", action="store_true", help="skip torchrun")
    ap.add_argument("--no-lightning", action="store_true", help="skip Lightning's fabric run")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--families", default=",".join(BENCHES),
                    help="comma-separated subset of %s (default: all)" % ",".join(BENCHES))
    ap.add_argument("--reps", type=int, default=0,
                    help="repetitions of fabric-run and the baselines (default 20, 3 with "
                         "--quick); the peers keep their own few")
    ap.add_argument("--peer-reps", type=int, default=0,
                    help="repetitions of torchrun and `fabric run` (default 5, 2 with "
                         "--quick; plot-only sizes half of it, at least 2)")
    args = ap.parse_args()
    use_venv()
    families = args.families.split(",")
    for f in families:
        if f not in BENCHES:
            sys.exit("--families: unknown family %r; choose from %s" % (f, ",".join(BENCHES)))
    paths = Paths(args.bin_dir)
    with_fabric = not args.no_fabric
    paths.check(with_fabric)
    launchers = ["baseline", "baseline-fork"]
    if with_fabric:
        launchers.append("fabric-run")
        if os.access(paths.fabric_run_static, os.X_OK):
            launchers.append("fabric-run-static")
        if os.access(paths.fabric_run_nogrpc, os.X_OK):
            launchers.append("fabric-run-nogrpc")
    if not args.no_torchrun:
        launchers.append("torchrun")
    if not args.no_lightning:
        launchers.append("lightning")
    items = [i for i in plan(args.quick, launchers, args.reps, args.peer_reps)
             if i[0] in families]
    meta = meta_info(paths, with_fabric)
    LAUNCHERS["torchrun"] = "torchrun %s" % meta["torch"]
    LAUNCHERS["lightning"] = "`fabric run` (Lightning %s)" % meta["lightning"]
    start = time.monotonic()
    def log(msg):
        print("[%6.1fs] %s" % (time.monotonic() - start, msg), flush=True)
    log("%d cases, %d runs" % (len(items), sum(r for _, _, r in items)))
    samples, errors = run_all(paths, items, log)
    meta["load_end"] = "%.1f" % os.getloadavg()[0]
    meta["seconds"] = round(time.monotonic() - start, 1)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "launcher.json"), "w") as f:
        json.dump({"meta": meta, "samples": samples, "errors": errors}, f, indent=1)
    write_markdown(os.path.join(args.out, "launcher.md"), samples, errors, meta, launchers)
    write_plot(os.path.join(args.out, "launcher_cold_start.svg"), samples, launchers)
    if os.path.abspath(args.out) == os.path.join(HERE, "results"):
        subprocess.run([PYTHON, os.path.join(HERE, "assemble_results.py")], check=True)
        log("wrote %s/launcher.{md,json,_cold_start.svg} and bench/RESULTS.md" % args.out)
    else:
        log("wrote %s/launcher.{md,json,_cold_start.svg}" % args.out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
