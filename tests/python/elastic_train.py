# An unmodified PyTorch DDP training loop (Gloo, env://) long enough to be interrupted:
# STEPS steps (default 200) of a small regression, a short sleep each. Every worker
# writes its pid to $PID_DIR/worker_<agent pid>_<local rank>.pid (the test kills a node's
# workers by pid); rank 0 prints its progress every 10 steps and, at the end, the loss,
# the world size and its agent's pid (the node that held rank 0 in the last round).
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP


def main():
    pid_dir = os.environ.get("PID_DIR")
    if pid_dir:
        name = f"worker_{os.getppid()}_{os.environ['LOCAL_RANK']}.pid"
        with open(os.path.join(pid_dir, name), "w") as f:
            f.write(str(os.getpid()))
    dist.init_process_group("gloo", init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    g = torch.Generator().manual_seed(1234 + rank)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    torch.manual_seed(7)
    model = DDP(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    steps = int(os.environ.get("STEPS", "200"))
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if rank == 0 and step % 10 == 0:
            print(f"training step {step}", flush=True)
        time.sleep(0.03)
    if rank == 0:
        print(f"final loss {loss.item():.5f} world {world} agent {os.getppid()}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
