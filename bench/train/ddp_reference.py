"""The example trainer's model and step in Python PyTorch DDP, or FSDP2 (`fully_shard` on
each transformer layer, then the root), on Gloo/CPU, for the side-by-side benchmark. Same shapes as examples/train (vocab 256, d_model 64,
2 layers, 4 heads, ff 128, seq 64, per-rank batch 8), AdamW, grad-norm clip 1.0.

Run with the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT):
  bench/train/launch_local.sh 2 .venv/bin/python bench/train/ddp_reference.py --steps 60
"""
import argparse
import math
import os
import resource
import signal
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class TinyLm(nn.Module):
    def __init__(self, vocab, d_model, layers, heads, seq_len):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=0.0)
            for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        self.register_buffer(
            "mask", torch.triu(torch.full((seq_len, seq_len), -math.inf), 1), persistent=False)

    def forward(self, tokens):
        s = tokens.size(1)
        h = self.tok(tokens) + self.pos(torch.arange(s, device=tokens.device)).unsqueeze(0)
        h = h.transpose(0, 1)
        for b in self.blocks:
            h = b(h, src_mask=self.mask[:s, :s])
        return self.head(self.norm(h.transpose(0, 1))).float()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--strategy", choices=["ddp", "fsdp2"], default="ddp")
    # Recovery benchmark (bench/recovery): checkpoints, a crash, a step log.
    p.add_argument("--ckpt-dir", default="")
    p.add_argument("--ckpt-every", type=int, default=10)
    p.add_argument("--crash-at-step", type=int, default=-1)
    p.add_argument("--crash-rank", type=int, default=0)
    p.add_argument("--step-log", default="")
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    if restart != "0" and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        # torchrun 2.11 restarts into the same agent store, where Gloo would read the
        # failed attempt's addresses (connectFullMesh: connection refused): a prefix per
        # attempt is what a script needs for torchrun's restart to work over Gloo.
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                              int(os.environ["WORLD_SIZE"]), is_master=False)
        dist.init_process_group("gloo", store=dist.PrefixStore(f"attempt_{restart}", store),
                                rank=int(os.environ["RANK"]),
                                world_size=int(os.environ["WORLD_SIZE"]))
    else:
        dist.init_process_group("gloo", init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(1234)
    model = TinyLm(a.vocab, a.d_model, a.layers, a.heads, a.seq_len)
    if a.strategy == "fsdp2":
        from torch.distributed.fsdp import fully_shard
        for block in model.blocks:
            fully_shard(block)
        ddp = fully_shard(model)
    else:
        ddp = DDP(model) if world > 1 else model
    opt = torch.optim.AdamW(ddp.parameters(), lr=3e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(rank)
    timed, n, loss = 0.0, 0, None
    first = 0
    ckpt = os.path.join(a.ckpt_dir, "last.pt") if a.ckpt_dir else ""
    if ckpt and os.path.exists(ckpt):  # the gang restart's reload (map_location: cpu)
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        first = state["step"]
    log = open(os.path.join(a.step_log, f"rank_{rank}.steps"), "a") if a.step_log else None
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
    for step in range(first, a.steps):
        if step == a.crash_at_step and rank == a.crash_rank and first_attempt:
            if log:
                log.write(f"kill pid {os.getpid()} t {int(time.time() * 1000)}\n")
                log.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        t0 = time.perf_counter()
        start = torch.randint(0, a.vocab, (a.batch_size, 1), generator=gen)
        stride = torch.randint(1, 8, (a.batch_size, 1), generator=gen)
        seqs = (start + stride * torch.arange(a.seq_len + 1)) % a.vocab
        x, y = seqs[:, :-1], seqs[:, 1:]
        logits = ddp(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ddp.parameters(), 1.0)
        opt.step()
        t1 = time.perf_counter()
        if log:
            log.write(f"step {step} pid {os.getpid()} t {int(time.time() * 1000)}\n")
            log.flush()
        if ckpt and (step + 1) % a.ckpt_every == 0 and rank == 0:
            tmp = ckpt + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1}, tmp)
            os.replace(tmp, ckpt)
        if ckpt and (step + 1) % a.ckpt_every == 0:
            dist.barrier()  # every rank returns once the file exists, as Fabric::Save
        if step >= a.warmup_steps:
            timed += (t1 - t0) * 1000
            n += 1
    if rank == 0:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # VmHWM, kB
        print(f"done: steps={a.steps} final_loss={loss.item():.4f} mean_step_ms={timed / max(n, 1):.2f} "
              f"timed_steps={n} peak_rss_mb={peak_mb:.1f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
