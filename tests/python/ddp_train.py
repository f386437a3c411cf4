# An unmodified PyTorch DistributedDataParallel training loop (Gloo, env://). Each
# rank trains on its own shard of a fixed regression data set; DDP averages the
# gradients, which equals full-batch training on the whole data set. Every rank also
# trains that single-process reference and prints whether its DDP weights match it,
# plus a checksum of the weights (identical on every rank when DDP is right).
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP


def data(world):
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(world * 16, 4, generator=g)
    w_true = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    y = x @ w_true + 0.01 * torch.randn(world * 16, 1, generator=g)
    return x, y


def model():
    torch.manual_seed(7)
    return torch.nn.Linear(4, 1)


def train(m, x, y, steps=50):
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(m(x), y)
        loss.backward()
        opt.step()
    return loss.item()


def main():
    dist.init_process_group("gloo", init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = data(world)
    shard = slice(rank * 16, (rank + 1) * 16)
    ddp = DDP(model())
    loss = train(ddp, x[shard], y[shard])
    ref = model()
    train(ref, x, y)
    w = torch.cat([p.detach().flatten() for p in ddp.module.parameters()])
    wr = torch.cat([p.detach().flatten() for p in ref.parameters()])
    match = torch.allclose(w, wr, atol=1e-5)
    print(f"ddp rank {rank}/{world} group {os.environ['GROUP_RANK']} match {match} "
          f"checksum {w.sum().item():.5f} loss {loss:.5f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
