"""A Lightning Fabric training script written as Lightning's documentation writes them.

It is launched unchanged by fabric-run, by Lightning's own `fabric run`, and by srun; the
tests compare what it writes. Fabric() takes no arguments unless --strategy/--precision
are given here (then the program chooses, as Fabric(strategy=...) in user code does).

Writes, per rank, OUT/rank<R>.pt (the final parameters) and prints one line per rank:
  LIGHTNING env=<cluster environment> world=W rank=R local=L node=N strategy=S precision=P
            ours=<RANK>/<LOCAL_RANK>/<GROUP_RANK>/<WORLD_SIZE> (from the launcher's environment)
            slurm=<rank>/<local>/<node>/<world> (Lightning's SLURMEnvironment) or none
and `final loss=...` on rank 0. With --ckpt it saves state every --save-every steps with
fabric.save and resumes from it with fabric.load. --die-rank/--die-step: that rank
SIGKILLs itself at that step of the first attempt (TORCHELASTIC_RESTART_COUNT=0).
"""
import argparse
import os
import signal

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--accumulate", type=int, default=1)
    p.add_argument("--clip", type=float, default=0.0)
    p.add_argument("--ckpt", default="")
    p.add_argument("--save-every", type=int, default=3)
    p.add_argument("--die-rank", type=int, default=-1)
    p.add_argument("--die-step", type=int, default=-1)
    p.add_argument("--two-models", action="store_true",
                   help="a second model with its own optimizer (Fabric.setup twice), "
                        "trained on the first one's outputs, as in a GAN or distillation")
    p.add_argument("--strategy", default=None, help="chosen in code: Fabric(strategy=...)")
    p.add_argument("--precision", default=None, help="chosen in code: Fabric(precision=...)")
    return p.parse_args()


def make_dataset():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(1024, 16, generator=g)
    w = torch.randn(16, 4, generator=g)
    y = (x @ w).argmax(dim=1)
    return TensorDataset(x, y)


def main():
    args = parse_args()
    kwargs = {}
    if args.strategy:
        kwargs["strategy"] = args.strategy
    if args.precision:
        kwargs["precision"] = args.precision
    fabric = L.Fabric(**kwargs)
    fabric.seed_everything(1234)

    model = torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model, optimizer = fabric.setup(model, optimizer)
    head = head_optimizer = None
    if args.two_models:
        head = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        head_optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
        head, head_optimizer = fabric.setup(head, head_optimizer)
    loader = fabric.setup_dataloaders(
        DataLoader(make_dataset(), batch_size=args.batch_size, shuffle=True))

    state = {"model": model, "optimizer": optimizer, "step": 0}
    if head is not None:
        state.update(head=head, head_optimizer=head_optimizer)
    if args.ckpt and os.path.exists(args.ckpt):
        fabric.load(args.ckpt, state)
        fabric.print(f"resumed from step {state['step']}")

    env = fabric._connector.cluster_environment
    # What Lightning's SLURM detection would say (it ranks below TorchElastic, which
    # fabric-run's torchrun variables select, but other SLURM-aware code reads the same).
    slurm = "none"
    if SLURMEnvironment.detect():
        try:
            se = SLURMEnvironment()
            slurm = f"{se.global_rank()}/{se.local_rank()}/{se.node_rank()}/{se.world_size()}"
        except Exception as e:  # Lightning refuses an inconsistent srun setup
            slurm = "error:" + type(e).__name__
    print(f"LIGHTNING env={type(env).__name__} world={fabric.world_size} rank={fabric.global_rank}"
          f" local={fabric.local_rank} node={fabric.node_rank}"
          f" strategy={type(fabric.strategy).__name__}"
          f" precision={type(fabric._precision).__name__}:{getattr(fabric._precision, 'precision', '?')}"
          f" ours={os.environ.get('RANK')}/{os.environ.get('LOCAL_RANK')}"
          f"/{os.environ.get('GROUP_RANK')}/{os.environ.get('WORLD_SIZE')}"
          f" slurm={slurm}", flush=True)

    # One epoch of micro-batches; a resumed run skips the ones already trained on, so it
    # sees exactly the data an uninterrupted run does. (Fabric's loader sets the sampler's
    # epoch itself on every iter().)
    assert args.steps * args.accumulate <= len(loader), "one epoch of data at most"
    batches = iter(loader)
    for _ in range(state["step"] * args.accumulate):
        next(batches)
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
    loss = torch.tensor(0.0)
    while state["step"] < args.steps:
        step = state["step"]
        if step == args.die_step and fabric.global_rank == args.die_rank and first_attempt:
            print(f"rank {fabric.global_rank} dies at step {step}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        for micro in range(args.accumulate):
            x, y = next(batches)
            is_accumulating = micro < args.accumulate - 1
            with fabric.no_backward_sync(model, enabled=is_accumulating):
                loss = F.cross_entropy(model(x), y)
                fabric.backward(loss / args.accumulate)
        if args.clip > 0:
            fabric.clip_gradients(model, optimizer, max_norm=args.clip)
        optimizer.step()
        optimizer.zero_grad()
        if head is not None:  # the second model learns from the first one's (detached) outputs
            head_loss = head(model(x).detach()).pow(2).mean()
            fabric.backward(head_loss)
            head_optimizer.step()
            head_optimizer.zero_grad()
        state["step"] = step + 1
        if args.ckpt and state["step"] % args.save_every == 0:
            fabric.save(args.ckpt, state)

    fabric.print(f"final loss={loss.item():.6f}")
    os.makedirs(args.out, exist_ok=True)
    params = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    if head is not None:
        params.update({"head." + k: v.detach().float().cpu() for k, v in head.state_dict().items()})
    torch.save(params, os.path.join(args.out, f"rank{fabric.global_rank}.pt"))


if __name__ == "__main__":
    main()
