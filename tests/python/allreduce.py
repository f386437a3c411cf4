# An unmodified PyTorch program: env:// rendezvous (MASTER_ADDR/PORT, RANK,
# WORLD_SIZE from the launcher), Gloo, one all-reduce of the rank.
import os

import torch
import torch.distributed as dist


def main():
    dist.init_process_group("gloo", init_method="env://")
    rank = dist.get_rank()
    world = dist.get_world_size()
    t = torch.tensor([float(rank)])
    dist.all_reduce(t)
    print(f"rank {rank}/{world} local_rank {os.environ['LOCAL_RANK']} sum {int(t.item())}",
          flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
