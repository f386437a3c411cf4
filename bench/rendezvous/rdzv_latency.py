"""Rendezvous latency with N agents as separate processes: fabric-run's gRPC rendezvous
(rdzv_agent against fabric-rendezvous) and PyTorch's c10d dynamic rendezvous (torchrun's
default backend, over a TCPStore; torch 2.11 from the repository's .venv, which runs this
script and every torch agent). Run by bench/rendezvous/run.sh.

Latency = (last agent's assignment) - (last agent's start): how long the rendezvous takes
once everyone has arrived. Each agent's own timing starts when main() is entered, before
it connects. For ours the phases are split out too (medians over runs):
  exec:    spawn (Popen) -> main() entered, per agent, median and max over agents
  connect: main() -> session open and Join sent (channel, TCP, HTTP/2, session), per agent
  tail:    the last Join sent -> the last assignment received: the rendezvous proper once
           every agent has asked (server round completion + delivery + wake-ups)
Agents stay connected 1 s after their assignment (as torch_c10d_agent.py does): an agent
exiting at once is a node loss that pushes ROUND_CHANGED / RUN_FAILED to the others while
they are still being woken, which the timing would then include.
Prints markdown rows.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

BIN = sys.argv[1]  # bazel-bin
REPS = int(os.environ.get("REPS", "5"))
AGENTS = [int(n) for n in os.environ.get("AGENTS", "2 8 32").split()]
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.join(os.path.dirname(os.path.dirname(HERE)), ".venv", "bin", "python")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ours(n):
    server = subprocess.Popen([f"{BIN}/rendezvous/fabric-rendezvous", "--port", "0", "--host", "127.0.0.1"],
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    try:
        procs, spawns = [], []
        for i in range(n):
            spawns.append(time.time_ns() // 1000)
            procs.append(subprocess.Popen([f"{BIN}/rendezvous/tests/rdzv_agent", "--server",
                                           f"127.0.0.1:{port}", "--node", f"n{i}", "--min", str(n),
                                           "--max", str(n), "--linger-ms", "1000"],
                                          stdout=subprocess.PIPE, text=True))
        starts, ends, sent = [], [], []
        for p in procs:
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0, out
            f = dict(kv.split("=", 1) for kv in out.split()[1:])
            starts.append(int(f["start_us"]))
            ends.append(int(f["end_us"]))
            sent.append(int(f["join_sent_us"]))
    finally:
        server.terminate()
        server.wait()
    execs = [s - p for s, p in zip(starts, spawns)]
    connects = [j - s for j, s in zip(sent, starts)]
    phases = {"exec_med": statistics.median(execs) / 1000.0, "exec_max": max(execs) / 1000.0,
              "connect_med": statistics.median(connects) / 1000.0,
              "tail": (max(ends) - max(sent)) / 1000.0}
    return (max(ends) - max(starts)) / 1000.0, (max(ends) - min(starts)) / 1000.0, phases


def torch_c10d(n):
    from torch.distributed import TCPStore
    port = free_port()
    host_store = TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False)
    run_id = f"bench{time.time_ns()}"
    procs = [subprocess.Popen([PYTHON, f"{HERE}/torch_c10d_agent.py",
                               f"127.0.0.1:{port}", run_id, str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    starts, ends = [], []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        s, e, _, _ = out.split()
        starts.append(int(s))
        ends.append(int(e))
    del host_store
    return (max(ends) - max(starts)) / 1000.0, (max(ends) - min(starts)) / 1000.0, {}


def measure(fn, n, reps):
    runs = [fn(n) for _ in range(reps)]
    phases = {k: statistics.median(r[2][k] for r in runs) for k in runs[0][2]}
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            phases, [r[0] for r in runs])


def main():
    # The driver imports torch (the TCPStore host): it too must be .venv's Python.
    if not os.access(PYTHON, os.X_OK):
        sys.exit(".venv/bin/python is missing: run `bash tools/setup.sh`")
    venv = os.path.dirname(os.path.dirname(PYTHON))
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        os.execv(PYTHON, [PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    import torch
    print(f"torch c10d rendezvous: torch {torch.__version__} from the repository's .venv "
          "(torchrun's default backend, DynamicRendezvousHandler over a TCPStore).")
    print()
    print("| agents | fabric-run rendezvous (ms, median; all runs) | torchrun c10d rendezvous (ms) "
          "| speed-up | ours: exec med/max | ours: connect med | ours: last Join sent -> last "
          "assignment |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in AGENTS:
        lat, span, ph, runs = measure(ours, n, REPS)
        ours_cell = (f"{lat:.2f} ({' / '.join(f'{r:.1f}' for r in sorted(runs))}; first start to "
                     f"last done {span:.1f})")
        phase_cells = (f"{ph['exec_med']:.1f} / {ph['exec_max']:.1f} | {ph['connect_med']:.1f} | "
                       f"{ph['tail']:.2f}")
        if n <= 8 and os.environ.get("SKIP_TORCH") != "1":
            tlat, tspan, _, _ = measure(torch_c10d, n, max(1, REPS // 2))
            print(f"| {n} | {ours_cell} | {tlat:.1f} (first start to last done {tspan:.1f}) | "
                  f"{tlat / lat:.0f}x | {phase_cells} |", flush=True)
        else:
            print(f"| {n} | {ours_cell} | not run | | {phase_cells} |", flush=True)


if __name__ == "__main__":
    main()
