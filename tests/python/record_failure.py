# An unmodified PyTorch program that fails on rank 1 under torch's own @record,
# which writes the exception to TORCHELASTIC_ERROR_FILE.
import os

from torch.distributed.elastic.multiprocessing.errors import record


@record
def main():
    if os.environ["RANK"] == "1":
        raise ValueError("bad batch on rank 1")
    print(f"rank {os.environ['RANK']} fine", flush=True)


if __name__ == "__main__":
    main()
