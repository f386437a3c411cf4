"""fabric-run's preload zygote (--preload MODULES; launcher/zygote_process_launcher.h).

Started by the agent as `PYTHON fabric_zygote.py MODULES` with fd 0 a SOCK_SEQPACKET
socket to the agent. It imports MODULES once, answers b"ready" (or b"error LINE"), then
serves one request per message until the agent closes the socket:

  request: b"spawn\\0MODE\\0TARGET\\0UNBUFFERED\\0CWD\\0CPUS\\0ARGC\\0ARG...\\0ENV..."
           with SCM_RIGHTS [stdin, stdout, stderr]; MODE is b"script" or b"module", CPUS
           a comma list (empty: inherit), ENV every KEY=VALUE of the worker's environment.
  reply:   b"ok PID" or b"error LINE".

Each worker is forked twice (zygote -> intermediate -> worker; the intermediate exits at
once), so the worker is re-parented to the agent, a child subreaper: the agent reaps and
signals it like a worker it spawned. The worker leads its own process group, waits for
the zygote's go (sent once it is the agent's child), sets PR_SET_PDEATHSIG(SIGKILL),
takes its fds, environment, working directory and CPUs, and runs TARGET as
`python [-u] TARGET ARGS` or `python [-u] -m TARGET ARGS` would: __main__, sys.argv,
sys.path[0], __file__, stdio buffering. What the preloaded modules read at import is
applied again after the fork: torch's thread count from OMP_NUM_THREADS (the zygote
imports with OMP_NUM_THREADS=1, so that no thread pool exists at the fork), Python's and
numpy's random seeds, faulthandler from PYTHONFAULTHANDLER.
"""

import ctypes
import faulthandler
import gc
import importlib
import io
import os
import socket
import sys
import types

PR_SET_PDEATHSIG = 1
_KEEP = []  # objects that must never be collected (the zygote's stdio, its __main__)


def _one_line(text):
    return " ".join(str(text).split())[:400]


def _reply(sock, text):
    sock.send(text.encode("utf-8", "backslashreplace"))


def _preload(modules):
    """Imports `modules`; returns None, or the one line saying why the zygote cannot serve."""
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as e:  # noqa: BLE001 - any failure means: spawn normally
            return "import %s failed: %s: %s" % (name, type(e).__name__, _one_line(e))
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return ("importing %s initialized CUDA, which a forked worker cannot use; "
                "drop the module that does it from --preload" % ",".join(modules))
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:
        return ("importing %s started %d threads; forking a multi-threaded process is unsafe"
                % (",".join(modules), threads))
    return None


def _parse(msg):
    f = msg.split(b"\0")
    if len(f) < 7 or f[0] != b"spawn":
        raise ValueError("malformed request")
    argc = int(f[6])
    args = [os.fsdecode(a) for a in f[7:7 + argc]]
    env = {}
    for kv in f[7 + argc:]:
        k, sep, v = kv.partition(b"=")
        if sep:
            env[os.fsdecode(k)] = os.fsdecode(v)
    return {
        "mode": f[1].decode(),
        "target": os.fsdecode(f[2]),
        "unbuffered": f[3] == b"1",
        "cwd": os.fsdecode(f[4]),
        "cpus": [int(c) for c in f[5].split(b",") if c],
        "args": args,
        "env": env,
    }


def _serve(sock, agent):
    """The zygote's loop. Returns only in a worker: (job, stdio fds)."""
    fd_bytes = socket.CMSG_SPACE(3 * 4)
    while True:
        try:
            msg, anc, _, _ = sock.recvmsg(1 << 20, fd_bytes)
        except InterruptedError:
            continue
        if not msg:
            sys.exit(0)  # the agent closed the socket
        fds = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(int.from_bytes(data[i:i + 4], sys.byteorder)
                           for i in range(0, len(data) - len(data) % 4, 4))
        try:
            job = _parse(msg)
            if len(fds) != 3:
                raise ValueError("expected 3 fds, got %d" % len(fds))
        except (ValueError, UnicodeDecodeError) as e:
            for fd in fds:
                os.close(fd)
            _reply(sock, "error " + _one_line(e))
            continue
        pid_r, pid_w = os.pipe()
        go_r, go_w = os.pipe()
        try:
            mid = os.fork()
        except OSError as e:
            for fd in fds + [pid_r, pid_w, go_r, go_w]:
                os.close(fd)
            _reply(sock, "error fork: " + _one_line(e))
            continue
        if mid == 0:  # the intermediate: fork the worker, tell its pid, leave
            try:
                pid = os.fork()
            except BaseException:  # noqa: BLE001 - the zygote reads no pid: an error
                os._exit(1)
            if pid == 0:
                os.close(pid_r)
                os.close(pid_w)
                os.close(go_w)
                sock.close()
                return job, fds, go_r, agent
            try:
                # Both sides set the group (the worker too), so that it exists before the
                # pid is told: the agent may signal the group as soon as it has the pid.
                try:
                    os.setpgid(pid, pid)
                except OSError:
                    pass
                os.write(pid_w, b"%d" % pid)
            finally:
                os._exit(0)
        os.close(pid_w)
        os.close(go_r)
        for fd in fds:
            os.close(fd)
        data = os.read(pid_r, 32)
        os.close(pid_r)
        os.waitpid(mid, 0)  # once reaped, its child is the agent's
        if not data:
            os.close(go_w)
            _reply(sock, "error fork: the worker's fork failed")
            continue
        os.write(go_w, b"g")
        os.close(go_w)
        _reply(sock, "ok " + data.decode())


def _stdio(unbuffered):
    """New sys.stdin/stdout/stderr on fds 0-2, buffered as a fresh interpreter's would be."""
    old = (sys.stdin, sys.stdout, sys.stderr)
    _KEEP.extend(old)
    enc = [s.encoding if s is not None else "utf-8" for s in old]
    err = [s.errors if s is not None else "strict" for s in old]
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)),
                                 encoding=enc[0], errors=err[0])
    streams = []
    for fd in (1, 2):
        raw = io.FileIO(fd, "wb", closefd=False)
        buf = raw if unbuffered else io.BufferedWriter(raw)
        tty = os.isatty(fd)
        streams.append(io.TextIOWrapper(buf, encoding=enc[fd], errors=err[fd],
                                        line_buffering=tty or fd == 2, write_through=unbuffered))
    sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _python_path(entries_of):
    """sys.path without the zygote's sys.path[0] and PYTHONPATH entries (the base)."""
    rest = sys.path[1:]
    pp = entries_of(os.environ.get("PYTHONPATH", ""))
    return rest[len(pp):] if rest[:len(pp)] == pp else rest


def _entries(pythonpath):
    return [os.path.abspath(p) for p in pythonpath.split(os.pathsep) if p]


def _after_fork(job):
    """Settings that a preloaded module or the interpreter read at start-up."""
    env = job["env"]
    if env.get("PYTHONFAULTHANDLER"):
        faulthandler.enable()
    elif faulthandler.is_enabled():
        faulthandler.disable()
    if "random" in sys.modules:
        sys.modules["random"].seed()
    np = sys.modules.get("numpy")
    if np is not None and hasattr(np, "random"):
        np.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        # What a fresh process gets: OMP_NUM_THREADS, else MKL_NUM_THREADS, else one thread
        # per CPU it may run on (OpenMP's default).
        n = len(os.sched_getaffinity(0))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            try:
                given = int(env.get(var, ""))
            except ValueError:
                continue
            if given > 0:
                n = given
                break
        torch.set_num_threads(n)


def _worker(job, fds, go_r, agent, base_path):
    """The worker's set-up after the second fork; then runs its target."""
    os.setpgid(0, 0)
    go = os.read(go_r, 1)
    os.close(go_r)
    if go != b"g":
        os._exit(1)  # the zygote died before the worker was the agent's
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 9)
    if os.getppid() != agent:
        os._exit(1)  # the agent died meanwhile
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    if job["cpus"]:
        os.sched_setaffinity(0, job["cpus"])
    unbuffered = job["unbuffered"] or bool(job["env"].get("PYTHONUNBUFFERED"))
    _stdio(unbuffered)
    _after_fork(job)
    pp = _entries(job["env"].get("PYTHONPATH", ""))
    main = types.ModuleType("__main__")
    _KEEP.append(sys.modules.get("__main__"))
    sys.modules["__main__"] = main
    if job["mode"] == "module":
        sys.path[:] = [os.getcwd()] + pp + base_path
        sys.argv = ["-m"] + job["args"]
        import runpy
        runpy._run_module_as_main(job["target"], alter_argv=True)  # what `python -m` runs
        return
    script = job["target"]
    sys.path[:] = [os.path.dirname(os.path.realpath(script))] + pp + base_path
    sys.argv = [script] + job["args"]
    from importlib.machinery import SourceFileLoader
    path = os.path.abspath(script)
    main.__dict__.update(__file__=path, __cached__=None, __builtins__=__builtins__,
                         __loader__=SourceFileLoader("__main__", path))
    with io.open_code(path) as f:
        code = compile(f.read(), path, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def _strip_own_frames(tb):
    """The traceback from the first frame that is neither ours nor runpy's."""
    while tb is not None and (tb.tb_frame.f_code.co_filename == __file__ or
                              tb.tb_frame.f_code.co_filename.endswith("runpy.py")):
        tb = tb.tb_next
    return tb


def main():
    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    agent = os.getppid()
    modules = [m for m in sys.argv[1].split(",") if m] if len(sys.argv) > 1 else []
    base_path = _python_path(_entries)
    # No OpenMP/BLAS thread pool may exist at the fork (the import would start one unless
    # OMP_NUM_THREADS=1): each worker sets its own thread count after the fork.
    os.environ["OMP_NUM_THREADS"] = "1"
    why = _preload(modules)
    if why is not None:
        _reply(sock, "error " + why)
        sys.exit(1)
    # What the imports made is never collected (it lives as long as the zygote): frozen, the
    # workers' collections skip it instead of touching (and so copying) its pages.
    gc.collect()
    gc.freeze()
    _reply(sock, "ready")
    job, fds, go_r, agent = _serve(sock, agent)
    try:
        _worker(job, fds, go_r, agent, base_path)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        t, v, tb = sys.exc_info()
        v = v.with_traceback(_strip_own_frames(tb))  # what the hook prints
        sys.excepthook(t, v, v.__traceback__)
        sys.exit(1)


if __name__ == "__main__":
    main()
