#!/usr/bin/python3
"""Launcher benchmarks: fabric-run against Debian's torchrun, side by side (issue 2).

Run through bench/run.sh (which builds the binaries with -c opt first), or directly:
  /usr/bin/python3 bench/launcher_bench.py [--quick] [--bin-dir bazel-out/k8-opt/bin]

Benchmarks (doc/bench.md has the methodology):
  startup   the launcher's own start (`fabric-run --version`) and the exec floor.
  cold      launch -> every worker has started (and: its first line reached the console).
  noop      wall time of a job whose workers exit 0 at once, against spawn_baseline.
  restart   a worker fails -> every worker of the next attempt has started.
  idle      the agent's resident memory and CPU while its workers sleep.

Every configuration is run repeatedly, interleaved with the others (round robin), and
summarised by min and median. Writes bench/results/launcher.md (the table),
bench/results/launcher.json (every sample) and bench/results/launcher_cold_start.png,
then bench/assemble_results.py rebuilds bench/RESULTS.md.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TORCHRUN = "/usr/bin/torchrun"
PYTHON = "/usr/bin/python3"


class Paths:
    def __init__(self, bin_dir):
        b = os.path.abspath(bin_dir)
        self.fabric_run = os.path.join(b, "launcher/fabric-run")
        # Made by bench/relink_fabric_run.sh (an experiment: the same objects, linked
        # fully statically), when present.
        self.fabric_run_static = os.path.join(HERE, "out/variants/fabric-run-static")
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
    # name: label in tables
    "baseline": "spawn baseline",
    "baseline-fork": "spawn baseline, fork + wait for exec",
    "fabric-run": "fabric-run",
    "fabric-run-static": "fabric-run relinked static (experiment)",
    "torchrun-0.1": "torchrun --monitor_interval 0.1",
    "torchrun": "torchrun (default monitor, 5 s)",
}


def worker_argv(paths, kind, mode_args):
    if kind == "native":
        return [paths.native_worker] + mode_args
    return [PYTHON, "-S", paths.python_worker] + mode_args


def launcher_argv(paths, launcher, n, worker, max_restarts, scratch):
    if launcher == "baseline":
        return [paths.spawn_baseline, str(n)] + worker
    if launcher == "baseline-fork":
        return [paths.spawn_baseline, "--fork-wait", str(n)] + worker
    if launcher.startswith("fabric-run"):
        binary = paths.fabric_run_static if launcher == "fabric-run-static" else \
            paths.fabric_run
        return [binary, "--devices", str(n), "--max-restarts", str(max_restarts),
                "--grace-period", "5s", "--"] + worker
    # torchrun 1.13: underscore flags; --redirects/--tee or it crashes on Python 3.11.
    argv = [TORCHRUN, "--standalone", "--nproc_per_node", str(n),
            "--max_restarts", str(max_restarts), "--redirects", "1", "--tee", "1",
            "--log_dir", os.path.join(scratch, "torchrun_logs")]
    if launcher == "torchrun-0.1":
        argv += ["--monitor_interval", "0.1"]
    return argv + ["--no_python"] + worker


# ---------------------------------------------------------------------------------
# One measured run.

def clean_env(records):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BENCH_", "FABRIC_", "TORCHELASTIC_")) and
           k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["BENCH_RECORDS"] = records
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
                         argv, env=clean_env(records), stdout=subprocess.PIPE,
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


def bench_startup(paths, case, scratch, records):
    argv = {"fabric-run --version": [paths.fabric_run, "--version"],
            "fabric-run --version, relinked static (experiment)":
                [paths.fabric_run_static, "--version"],
            "bench_worker noop (exec floor)": [paths.native_worker, "noop"],
            "python3 -S (noop worker)": [PYTHON, "-S", paths.python_worker, "noop"],
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
                         worker_argv(paths, "native", ["noop"]), 0, scratch)
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
    n = case["n"]
    argv = launcher_argv(paths, case["launcher"], n,
                         worker_argv(paths, "native", ["sleep", str(sleep_s)]), 0, scratch)
    log = open(os.path.join(scratch, "output.log"), "w+")
    proc = subprocess.Popen(argv, env=clean_env(records), stdout=log, stderr=log)
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

def plan(quick, launchers, reps_override=None):
    """Returns [(bench, case, reps)] for the given launchers (keys of LAUNCHERS)."""
    fr = reps_override or (3 if quick else 20)  # fabric-run and the baselines: cheap
    t1 = 2 if quick else 5      # torchrun --monitor_interval 0.1
    t5 = 1 if quick else 3      # torchrun default: seconds per run
    reps = {"baseline": fr, "baseline-fork": fr, "fabric-run": fr,
            "fabric-run-static": fr, "torchrun-0.1": t1, "torchrun": t5}
    out = []
    cmds = ["bench_worker noop (exec floor)", "python3 -S (noop worker)",
            "spawn_baseline 1 noop"]
    if "fabric-run-static" in launchers:
        cmds.insert(0, "fabric-run --version, relinked static (experiment)")
    if "fabric-run" in launchers:
        cmds.insert(0, "fabric-run --version")
    for cmd in cmds:
        out.append(("startup", {"cmd": cmd}, fr))
    sweep = [2, 8] if quick else [1, 2, 4, 8, 16, 32]
    for kind in ("native", "python"):
        for n in sweep:
            for l in launchers:
                if l == "torchrun" and (n not in (2, 8) or kind != "native"):
                    continue  # cold start does not depend on the monitor interval
                if l in ("baseline-fork", "fabric-run-static") and (
                        kind != "native" or n not in (2, 8)):
                    continue  # side experiments: native workers, table sizes only
                r = reps[l] if n in (2, 8) else max(2, reps[l] // 2)
                out.append(("cold", {"launcher": l, "kind": kind, "n": n}, r))
    for n in (2, 8, 32):
        for l in launchers:
            out.append(("noop", {"launcher": l, "n": n}, reps[l]))
    for n in (2, 8):
        for l in RESTARTABLE:
            if l in launchers:
                r = reps[l] // 2 if l == "fabric-run" else reps[l]
                out.append(("restart", {"launcher": l, "kind": "native", "n": n}, r))
    for l in RESTARTABLE:
        if l in launchers:
            out.append(("idle", {"launcher": l, "n": 8}, min(reps[l], 5)))
    return out


RESTARTABLE = ["fabric-run", "torchrun-0.1", "torchrun"]


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


def ratio(a, b):
    """'median ratio (min ratio)' of two stats."""
    if a is None or b is None or b["median"] == 0 or b["min"] == 0:
        return "n/a"
    def f(r):
        return "%.1fx" % r if r >= 10 else "%.2fx" % r
    return "%s (min %s)" % (f(a["median"] / b["median"]), f(a["min"] / b["min"]))


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def write_markdown(path, samples, errors, meta, launchers):
    S = lambda b, metric, **case: stat(samples, case_key(b, case), metric)
    L = []
    w = L.append
    w("## Launcher: fabric-run vs torchrun")
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
    w("fabric-run %s (commit %s); torchrun from PyTorch %s on Python %s; kernel %s." %
      (meta["fabric_version"], meta["commit"], meta["torch"], meta["python"],
       meta["kernel"]))
    w("")

    w("### Start-up of a single command (exec -> exit), ms")
    w("")
    w("| command | min / median |")
    w("|---|---|")
    for cmd in ("fabric-run --version", "fabric-run --version, relinked static (experiment)",
                "bench_worker noop (exec floor)",
                "python3 -S (noop worker)", "spawn_baseline 1 noop"):
        if case_key("startup", {"cmd": cmd}) in samples:
            w("| `%s` | %s |" % (cmd, fmt(S("startup", "wall", cmd=cmd))))
    w("")

    w("### Cold start: launch -> every worker has started, ms")
    w("")
    w("Worker start = the latest CLOCK_MONOTONIC any worker read first thing in main(), "
      "minus t0 (read by timed_run just before it spawned the launcher). Console = when "
      "the last worker's first line arrived on the launcher's stdout.")
    w("")
    head = "| workers | worker |" + "".join(" %s |" % LAUNCHERS[l] for l in launchers)
    head += (" torchrun 0.1 / fabric-run | torchrun 0.1 / baseline (the best any launcher"
             " could do) | fabric-run - baseline | target >= 50x | target native: within ~3 ms"
             " (over the baseline) |")
    w(head)
    w("|---|---|" + "---|" * (len(launchers) + 5))
    for kind in ("native", "python"):
        for n in (2, 8):
            st = {l: S("cold", "start", launcher=l, kind=kind, n=n) for l in launchers}
            fr, base, t1 = st.get("fabric-run"), st.get("baseline"), st.get("torchrun-0.1")
            over = None if fr is None or base is None else fr["median"] - base["median"]
            ok50 = None if fr is None or t1 is None else t1["median"] / fr["median"] >= 50
            ok3 = None if over is None or kind != "native" else over <= 3.0
            w("| %d | %s |" % (n, "native" if kind == "native" else "python3 -S") +
              "".join(" %s |" % fmt(st[l]) for l in launchers) +
              " %s | %s | %s | %s | %s |" % (
                  ratio(t1, fr), ratio(t1, base),
                  "n/a" if over is None else "%+.2f (min %+.2f)" % (
                      over, fr["min"] - base["min"]), verdict(ok50),
                  verdict(ok3) if kind == "native" else ""))
    w("")
    w("Console (last worker line seen on the launcher's stdout), ms:")
    w("")
    w("| workers | worker |" + "".join(" %s |" % LAUNCHERS[l] for l in launchers))
    w("|---|---|" + "---|" * len(launchers))
    for kind in ("native", "python"):
        for n in (2, 8):
            w("| %d | %s |" % (n, "native" if kind == "native" else "python3 -S") +
              "".join(" %s |" % fmt(S("cold", "console", launcher=l, kind=kind, n=n))
                      for l in launchers))
    w("")
    w("![cold start against workers](results/launcher_cold_start.png)")
    w("")

    w("### No-op job: launch -> launcher exited, ms (workers exit 0 at once)")
    w("")
    w("| workers |" + "".join(" %s |" % LAUNCHERS[l] for l in launchers) +
      " fabric-run / baseline (target <= 1.2x) | torchrun 0.1 / fabric-run | torchrun / fabric-run |")
    w("|---|" + "---|" * (len(launchers) + 3))
    for n in (2, 8, 32):
        st = {l: S("noop", "wall", launcher=l, n=n) for l in launchers}
        fr, base = st.get("fabric-run"), st.get("baseline")
        ok = None if fr is None or base is None else fr["median"] / base["median"] <= 1.2
        w("| %d |" % n + "".join(" %s |" % fmt(st[l]) for l in launchers) +
          " %s %s | %s | %s |" % (ratio(fr, base), "(%s)" % verdict(ok) if ok is not None
                                 else "", ratio(st.get("torchrun-0.1"), fr),
                                 ratio(st.get("torchrun"), fr)))
    w("")

    w("### Restart: a worker fails -> every worker of the next attempt has started, ms")
    w("")
    w("Rank 0 exits 1 on attempt 0 once every worker has started (the others sleep); "
      "`--max-restarts 1`; native workers. From rank 0's last clock reading to the "
      "latest start of attempt 1.")
    w("")
    rl = [l for l in RESTARTABLE if l in launchers]
    w("| workers |" + "".join(" %s |" % LAUNCHERS[l] for l in rl) +
      " torchrun 0.1 / fabric-run | torchrun / fabric-run | target: fabric-run < 25 ms |")
    w("|---|" + "---|" * (len(rl) + 3))
    for n in (2, 8):
        st = {l: S("restart", "recover", launcher=l, kind="native", n=n) for l in rl}
        fr = st.get("fabric-run")
        ok = None if fr is None else fr["median"] < 25
        w("| %d |" % n + "".join(" %s |" % fmt(st[l]) for l in rl) +
          " %s | %s | %s |" % (ratio(st.get("torchrun-0.1"), fr), ratio(st.get("torchrun"), fr),
                             verdict(ok)))
    w("")

    w("### Idle agent: 8 native workers sleeping, sampled over 2 s")
    w("")
    w("RSS: VmRSS of the launcher and every descendant that is not a worker. CPU: "
      "utime+stime of those processes (10 ms ticks) per second of the window. Wake-ups: "
      "context switches of all their threads per second.")
    w("")
    w("| launcher | RSS MB | CPU ms/s | wake-ups/s | processes | target: < 10 MB, no CPU |")
    w("|---|---|---|---|---|---|")
    for l in rl:
        rss = S("idle", "rss_mb", launcher=l, n=8)
        cpu = S("idle", "cpu_ms", launcher=l, n=8)
        wake = S("idle", "wakeups", launcher=l, n=8)
        procs = S("idle", "processes", launcher=l, n=8)
        ok = None
        if l == "fabric-run" and rss is not None:
            ok = rss["median"] < 10 and cpu["median"] == 0
        w("| %s | %s | %s | %s | %s | %s |" % (
            LAUNCHERS[l], fmt(rss, digits=1), fmt(cpu, digits=1), fmt(wake, digits=1),
            fmt(procs, digits=0), verdict(ok) if l == "fabric-run" else ""))
    w("")
    if errors:
        w("Failed samples (left out of the table): " +
          ", ".join("`%s` x%d" % kv for kv in sorted(errors.items())))
        w("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_plot(path, samples, launchers):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (apt-get install python3-matplotlib): no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    styles = {"baseline": ("k", ":", "s"), "fabric-run": ("tab:blue", "-", "o"),
              "torchrun-0.1": ("tab:red", "--", "^"), "torchrun": ("tab:orange", "", "v")}
    for ax, kind in zip(axes, ("native", "python")):
        for l in launchers:
            if l not in styles:
                continue
            xs, med, lo = [], [], []
            for n in (1, 2, 4, 8, 16, 32):
                st = stat(samples, case_key("cold", {"launcher": l, "kind": kind, "n": n}),
                          "start")
                if st is not None:
                    xs.append(n)
                    med.append(st["median"])
                    lo.append(st["min"])
            if not xs:
                continue
            c, ls, m = styles[l]
            ax.plot(xs, med, color=c, linestyle=ls or "none", marker=m, label=LAUNCHERS[l])
            ax.plot(xs, lo, color=c, linestyle="none", marker=m, alpha=0.3, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([1, 2, 4, 8, 16, 32])
        ax.set_xticklabels(["1", "2", "4", "8", "16", "32"])
        ax.set_xlabel("workers")
        ax.set_title("%s workers" % ("native C++" if kind == "native" else "python3 -S"))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("launch -> every worker started (ms, median; faint: min)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def meta_info(paths, with_fabric):
    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load_start": "%.1f" % os.getloadavg()[0],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "torch": out([PYTHON, "-c", "import torch; print(torch.__version__)"]),
        "commit": out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "fabric_version": out([paths.fabric_run, "--version"]).replace("fabric-run ", "")
        if with_fabric else "(not built)",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "bazel-out/k8-opt/bin"),
                    help="where bazel build -c opt put the binaries")
    ap.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    ap.add_argument("--no-fabric", action="store_true", help="measure torchrun side only")
    ap.add_argument("--no-torchrun", action="store_true", help="skip torchrun")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--families", default=",".join(BENCHES),
                    help="comma-separated subset of %s (default: all)" % ",".join(BENCHES))
    ap.add_argument("--reps", type=int, default=0,
                    help="repetitions of fabric-run and the baselines (default 20, 3 with "
                         "--quick); torchrun keeps its own few")
    args = ap.parse_args()
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
    if not args.no_torchrun:
        launchers += ["torchrun-0.1", "torchrun"]
    items = [i for i in plan(args.quick, launchers, args.reps) if i[0] in families]
    meta = meta_info(paths, with_fabric)
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
    write_plot(os.path.join(args.out, "launcher_cold_start.png"), samples, launchers)
    if os.path.abspath(args.out) == os.path.join(HERE, "results"):
        subprocess.run([PYTHON, os.path.join(HERE, "assemble_results.py")], check=True)
        log("wrote %s/launcher.{md,json,_cold_start.png} and bench/RESULTS.md" % args.out)
    else:
        log("wrote %s/launcher.{md,json,_cold_start.png}" % args.out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
