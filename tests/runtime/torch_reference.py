"""torch 2.11's own DDP or FSDP2 (`fully_shard`) on the runtime tests' MLP, for the parity
test (tests/runtime/parity_test.cc): the same model (fc1 8->16, tanh, fc2 16->4, an input
scale buffer), the same global batches (torch.Generator seeded 1000 + step: what the C++
worker's at::make_generator draws), SGD with momentum 0.9, lr 0.1.

Started N times with the torchrun environment. Rank 0 writes OUT/init.ckpt (the initial
weights) before training and OUT/final_<mode>.ckpt after, both in fabric-run's checkpoint
format (runtime/checkpoint.h: a torch.save'd dict of "format", "step", "world_size",
"model/<name>"), so the C++ runtime can load the first and compare against the second.

  torch_reference.py --mode ddp|fsdp2 --out DIR [--steps 4]
"""
import argparse
import os

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

GLOBAL_BATCH = 12


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)
        self.register_buffer("in_scale", torch.rand(8) + 0.5)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x * self.in_scale)))


def global_batch(step):
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(GLOBAL_BATCH, 8, generator=g), torch.randn(GLOBAL_BATCH, 4, generator=g)


def save(path, tensors, world):
    d = {"format": torch.tensor(1), "step": torch.tensor(0), "world_size": torch.tensor(world)}
    d.update({"model/" + k: v.detach().clone().contiguous() for k, v in tensors.items()})
    torch.save(d, path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["ddp", "fsdp2"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=4)
    a = p.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(100)
    model = Mlp()
    if rank == 0:
        save(os.path.join(a.out, "init.ckpt"), dict(model.state_dict()), world)
    dist.barrier()
    if a.mode == "ddp":
        wrapped = DDP(model)
    else:
        from torch.distributed.fsdp import fully_shard
        fully_shard(model.fc1)
        fully_shard(model.fc2)
        wrapped = fully_shard(model)
    opt = torch.optim.SGD(wrapped.parameters(), lr=0.1, momentum=0.9)
    n = GLOBAL_BATCH // world
    for step in range(a.steps):
        x, y = global_batch(step)
        x, y = x[rank * n:(rank + 1) * n], y[rank * n:(rank + 1) * n]
        loss = F.mse_loss(wrapped(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    state = {}
    for name, t in model.named_parameters():
        state[name] = t.full_tensor() if hasattr(t, "full_tensor") else t
    state["in_scale"] = model.in_scale
    if rank == 0:
        save(os.path.join(a.out, f"final_{a.mode}.ckpt"), state, world)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
