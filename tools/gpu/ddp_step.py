"""A plain PyTorch DDP script for the GPU check (tools/gpu/gpu_check.sh): the same file runs
under fabric-run and under torchrun, so its step time is the launcher-independent part
and the two runs compare.

    ddp_step.py --backend nccl|gloo --device cuda|cpu [--steps N] [--warmup W]

Prints on rank 0: `DDP backend=B device=D world=W loss_first=X loss_last=Y mean_step_ms=M`.
"""
import argparse
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", default="gloo")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--width", type=int, default=512)
    a = p.parse_args()
    dist.init_process_group(a.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if a.device == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(a.width, a.width), torch.nn.GELU(),
                                torch.nn.Linear(a.width, 16)).to(device)
    ddp = DDP(model, device_ids=[local] if a.device == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1 + rank)
    x = torch.randn(64, a.width, generator=g).to(device)
    y = torch.randint(0, 16, (64,), generator=g).to(device)
    losses, t0 = [], None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            if a.device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if a.device == "cuda":
        torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / a.steps
    if rank == 0:
        print("DDP backend=%s device=%s world=%d loss_first=%.5f loss_last=%.5f mean_step_ms=%.3f"
              % (a.backend, device, world, losses[0], losses[-1], ms), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
