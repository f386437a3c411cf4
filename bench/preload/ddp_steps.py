"""A small Gloo DDP trainer for bench/preload: a Linear model on random data, ~50 ms a step.

Every rank appends "step S restart R t MS" to $STEP_DIR/rank_RANK.steps after each step. In
attempt 0 (TORCHELASTIC_RESTART_COUNT=0), rank 1 writes "kill t MS" at step $KILL_STEP and
SIGKILLs itself: the benchmark measures from that line to the first step of attempt 1.
"""
import os
import signal
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

STEPS = int(os.environ.get("STEPS", "12"))
KILL_STEP = int(os.environ.get("KILL_STEP", "5"))


def now_ms():
    return int(time.time() * 1000)


def main():
    rank = int(os.environ["RANK"])
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = DDP(torch.nn.Linear(64, 64))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    log = open(os.path.join(os.environ["STEP_DIR"], "rank_%d.steps" % rank), "a", buffering=1)
    for step in range(STEPS):
        if restart == 0 and rank == 1 and step == KILL_STEP:
            log.write("kill t %d\n" % now_ms())
            log.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        x = torch.randn(32, 64)
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.write("step %d restart %d t %d\n" % (step, restart, now_ms()))
        time.sleep(0.05)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
