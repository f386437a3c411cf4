# A PyTorch program that fails on rank 1 under torch's own @record, which writes
# the exception to TORCHELASTIC_ERROR_FILE. When RANK0_DONE names a file, rank 0
# writes its pid there after printing, and rank 1 fails only once that process has
# exited (so the test can also see how rank 0 ended: exit code 0, not our SIGTERM).
import os
import time

from torch.distributed.elastic.multiprocessing.errors import record


def exited(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


@record
def main():
    rank = os.environ["RANK"]
    marker = os.environ.get("RANK0_DONE")
    if rank == "1":
        deadline = time.time() + 300
        while marker and time.time() < deadline:
            try:
                with open(marker) as f:
                    pid = f.read().strip()
            except FileNotFoundError:
                pid = ""
            if pid and exited(int(pid)):
                break
            time.sleep(0.05)
        raise ValueError("bad batch on rank 1")
    print(f"rank {rank} fine", flush=True)
    if marker:
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(marker + ".tmp", marker)


if __name__ == "__main__":
    main()
