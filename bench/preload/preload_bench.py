"""--preload benchmark (issue 30), side by side in one run on this machine:

1. a no-op Python job (the script only imports torch) of 2 / 8 / 32 workers: fabric-run,
   fabric-run --preload torch, and torchrun 2.11 (--standalone), wall time of the launcher
   process from start to exit;
2. failure -> the first step of the next attempt for a small Gloo DDP trainer of 2 ranks
   (ddp_steps.py: rank 1 SIGKILLs itself at step 5 of attempt 0; --max-restarts 1): the
   time from its "kill" line to the first step any rank of attempt 1 completes.

Writes a Markdown table (--out, default bench/preload/RESULTS.md) with the command line.
Usage: .venv/bin/python bench/preload/preload_bench.py [--fabric-run PATH] [--repeats N]
"""
import argparse
import glob
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


DDP_PRELOAD = "torch,torch._dynamo"  # DDP's constructor imports torch._dynamo (~880 modules)


def launchers(args, n, extra, preloads=("torch",)):
    """name -> argv prefix (the script and its arguments follow)."""
    out = {"fabric-run": [args.fabric_run, "--devices", str(n), "--python", args.python] + extra}
    for p in preloads:
        out["fabric-run --preload " + p] = [args.fabric_run, "--preload", p, "--devices", str(n),
                                            "--python", args.python] + extra
    out["torchrun"] = [args.torchrun, "--standalone", "--nproc-per-node", str(n)] + extra
    return out


def run(argv, env=None, timeout=600, may_fail=False):
    """(seconds, stderr); None instead when it failed and `may_fail`."""
    t0 = time.monotonic()
    # Its own session: on a timeout the launcher and every worker it left go together.
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        # torchrun's workers lead sessions of their own: found by the STEP_DIR we gave them
        # (a directory of this run's own), else they would hold the stderr pipe open.
        tag = ("STEP_DIR=%s" % (env or {}).get("STEP_DIR", "")).encode()
        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and tag != b"STEP_DIR=" and tag in open(
                        "/proc/%s/environ" % pid, "rb").read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        _, err = p.communicate()
        p.returncode = "timeout"
    dt = time.monotonic() - t0
    if p.returncode != 0:
        if may_fail:
            return None
        sys.exit("%s exited %s:\n%s" % (" ".join(argv), p.returncode, err.decode()[-2000:]))
    return dt, err.decode()


def noop(args):
    rows = []
    script = os.path.join(HERE, "noop.py")
    for n in args.workers:
        reps = args.repeats if n <= 8 else max(1, args.repeats - 1)
        times = {}
        for _ in range(reps):  # interleaved, so that drift hits every launcher alike
            for name, prefix in launchers(args, n, []).items():
                dt, err = run(prefix + [script])
                if "spawning Python workers normally" in err:
                    sys.exit("the zygote fell back: " + err)
                times.setdefault(name, []).append(dt)
        rows.append((n, {k: statistics.median(v) for k, v in times.items()}, reps))
        print("noop", n, rows[-1][1], flush=True)
    return rows


def recovery_once(prefix, env, may_fail):
    """Seconds from the kill to attempt 1's first step; None when the launcher failed."""
    d = tempfile.mkdtemp(prefix="preload_bench.")
    try:
        r = run(prefix + [os.path.join(HERE, "ddp_steps.py")], env=dict(env, STEP_DIR=d),
                timeout=90, may_fail=may_fail)
        if r is None:
            return None
        if "spawning Python workers normally" in r[1]:
            sys.exit("the zygote fell back: " + r[1])
        kill, first = None, None
        for path in glob.glob(os.path.join(d, "rank_*.steps")):
            for line in open(path):
                f = line.split()
                if f[0] == "kill":
                    kill = int(f[2])
                elif f[0] == "step" and f[3] == "1":
                    t = int(f[5])
                    first = t if first is None else min(first, t)
        if kill is None or first is None:
            sys.exit("no kill or no step of attempt 1 in " + d)
        return (first - kill) / 1000.0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def recovery(args):
    env = dict(os.environ, KILL_STEP="5", STEPS="8")
    times, failed = {}, {}
    for _ in range(args.repeats):
        for name, prefix in launchers(args, 2, ["--max-restarts", "1"],
                                      ("torch", DDP_PRELOAD)).items():
            # torchrun's attempt 1 sometimes fails or hangs (its Gloo connectFullMesh reaches
            # the dead attempt's address): such runs (exit 1, or 90 s) are counted and retried,
            # up to 5 times.
            for _ in range(5):
                t = recovery_once(prefix, env, may_fail=name == "torchrun")
                if t is not None:
                    times.setdefault(name, []).append(t)
                    break
                failed[name] = failed.get(name, 0) + 1
    out = {k: statistics.median(v) for k, v in times.items()}
    print("recovery", out, "failed", failed, flush=True)
    return out, times, failed


def write(args, noop_rows, rec, rec_all, failed, took):
    torch_version = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"],
                                   capture_output=True, text=True).stdout.strip()
    names = ["fabric-run", "fabric-run --preload torch", "torchrun"]
    L = ["# --preload: Python workers from a pre-imported zygote (issue 30)", "",
         "Command: `%s` (%.0f s, one run, side by side; medians)." % (args.command, took), "",
         "Machine: %d cores; torch %s; torchrun is .venv/bin/torchrun (`--standalone`); "
         "fabric-run is `%s` (unoptimised Bazel build: the launcher's own share of these "
         "times is milliseconds). Runs are interleaved; the machine may be shared with other "
         "work, and at 32 workers (32 `import torch` on 2 cores) single runs vary by 2x." % (
             os.cpu_count(), torch_version, os.path.relpath(args.fabric_run, ROOT)), "",
         "## 1. No-op Python job (the script imports torch): launcher start to exit, s", "",
         "| workers | runs | " + " | ".join(names) + " | torchrun / fabric-run | "
         "torchrun / --preload |", "|---|---|---|---|---|---|---|"]
    for n, t, reps in noop_rows:
        L.append("| %d | %d | %s | %.1fx | %.1fx |" % (
            n, reps, " | ".join("%.2f" % t[k] for k in names),
            t["torchrun"] / t["fabric-run"], t["torchrun"] / t["fabric-run --preload torch"]))
    ddp = "fabric-run --preload " + DDP_PRELOAD
    rnames = names[:2] + [ddp, "torchrun"]
    L += ["", "## 2. Failure -> first step of the next attempt (2-rank Gloo DDP, rank 1 "
          "SIGKILLed, --max-restarts 1), s", "",
          "| " + " | ".join(rnames) + " | --preload torch / torchrun | --preload %s / "
          "torchrun |" % DDP_PRELOAD, "|---|---|---|---|---|---|",
          "| %s | %.2f | %.2f |" % (" | ".join("%.2f" % rec[k] for k in rnames),
                                    rec[names[1]] / rec["torchrun"], rec[ddp] / rec["torchrun"]),
          "", "Every run: " + "; ".join("%s %s" % (k, ", ".join("%.2f" % x for x in rec_all[k]))
                                        for k in rnames) + ".", "",
          "Of the time to the first step, ~0.75 s is the trainer's own `DistributedDataParallel(...)`"
          " constructor, which imports `torch._dynamo` (~880 modules) on first use in every "
          "process; `--preload %s` imports it once in the zygote." % DDP_PRELOAD, "",
          "Runs that failed and were retried: %s (torchrun: its attempt 1's Gloo "
          "connectFullMesh tried the killed attempt's address: the job exited 1 with its restarts "
          "spent, or hung and was killed after 90 s)." % (", ".join("%s %d" % kv for kv in failed.items())
                                              or "none"), "",
          "## Targets (issue 30)", "",
          "- failure -> next attempt's first step <= 1/3 of torchrun's: `--preload torch` is "
          "%.2f of torchrun's (%s); `--preload %s` %.2f (%s)." % (
              rec[names[1]] / rec["torchrun"],
              "reached" if rec[names[1]] * 3 <= rec["torchrun"] else "not reached", DDP_PRELOAD,
              rec[ddp] / rec["torchrun"],
              "reached" if rec[ddp] * 3 <= rec["torchrun"] else "not reached")]
    for n, want in ((8, 100), (32, 50)):
        for m, t, _ in noop_rows:
            if m == n:
                x = t["torchrun"] / t["fabric-run --preload torch"]
                L.append("- no-op job >= %dx torchrun at %d workers: %.1fx (%s)." % (
                    want, n, x, "reached" if x >= want else "not reached"))
    L += ["", "With --preload the job's time is the zygote's own start (the interpreter and "
          "`import torch`, once per node) plus a fork per worker: the floor is one `import "
          "torch`, which every torchrun job pays too (its agent imports torch) before its "
          "workers import it again each.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(L))
    print("wrote", args.out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fabric-run", default=os.path.join(ROOT, "bazel-bin/launcher/fabric-run"))
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv/bin/python"))
    ap.add_argument("--torchrun", default=os.path.join(ROOT, ".venv/bin/torchrun"))
    ap.add_argument("--workers", default="2,8,32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    args.workers = [int(x) for x in args.workers.split(",")]
    args.command = " ".join(["bench/preload/preload_bench.py"] + sys.argv[1:])
    t0 = time.monotonic()
    rows = noop(args)
    rec, rec_all, failed = recovery(args)
    write(args, rows, rec, rec_all, failed, time.monotonic() - t0)


if __name__ == "__main__":
    main()
