# A PyTorch program that fails on rank 1 under torch's own @record, which writes
# the exception to TORCHELASTIC_ERROR_FILE. When RANK0_DONE names a file, rank 1
# fails only after rank 0 created it (so the test can also see rank 0's output).
import os
import time

from torch.distributed.elastic.multiprocessing.errors import record


@record
def main():
    rank = os.environ["RANK"]
    marker = os.environ.get("RANK0_DONE")
    if rank == "1":
        deadline = time.time() + 300
        while marker and not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.05)
        raise ValueError("bad batch on rank 1")
    print(f"rank {rank} fine", flush=True)
    if marker:
        open(marker, "w").close()


if __name__ == "__main__":
    main()
