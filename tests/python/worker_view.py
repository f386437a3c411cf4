"""What a worker sees of its start (tests/preload_test.cc): one tab-separated line of
key=value per rank, under a spawned worker and a --preload zygote's fork alike.

argv[1]: "ok", "fail-first" (rank 1 of attempt 0 exits 3) or "sleep" (writes
$HELPER_DIR/worker_RANK.pid and sleeps).
"""
import os
import sys

preloaded = "torch" in sys.modules  # before any import of ours: only a zygote's fork has it
fields = {
    "rank": os.environ["RANK"],
    "local_rank": os.environ["LOCAL_RANK"],
    "world": os.environ["WORLD_SIZE"],
    "restart": os.environ["TORCHELASTIC_RESTART_COUNT"],
    "master_port": os.environ["MASTER_PORT"],
    "name": __name__,
    "file": __file__,
    "argv": repr(sys.argv),
    "path0": sys.path[0],
    "path": repr(sys.path),
    "cwd": os.getcwd(),
    "pid_is_pgrp": os.getpgrp() == os.getpid(),
    "ppid": os.getppid(),
    "omp": os.environ.get("OMP_NUM_THREADS"),
    "write_through": sys.stdout.write_through,
    "preloaded": preloaded,
}
import torch  # noqa: E402 - after the check above

fields["threads"] = torch.get_num_threads()
print("VIEW\t" + "\t".join("%s=%s" % kv for kv in fields.items()), flush=True)
mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
if mode == "fail-first" and fields["restart"] == "0" and fields["rank"] == "1":
    sys.exit(3)
if mode == "sleep":
    path = os.path.join(os.environ["HELPER_DIR"], "worker_%s.pid" % fields["rank"])
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    import time

    time.sleep(300)
