"""The example trainer's model (bench/train/ddp_reference.py's TinyLm) trained by Lightning
Fabric on one GPU: the peer of `fabric-run --accelerator cuda --devices 1 train` in
tools/gpu_check.sh's step-time figure. Same shapes, AdamW, clip 1.0, synthetic batches made
on the device; the step is timed with torch.cuda.synchronize() around it.

  python3 bench/gpu/lightning_lm.py --precision bf16-mixed --steps 60 [--d-model 256 ...]
Prints "done: steps=N final_loss=L mean_step_ms=T timed_steps=K".
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

import lightning as L

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from ddp_reference import TinyLm  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--precision", default="bf16-mixed")
    p.add_argument("--accelerator", default="cuda")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup-steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    a = p.parse_args()
    fabric = L.Fabric(accelerator=a.accelerator, devices=1, precision=a.precision)
    sync = torch.cuda.synchronize if a.accelerator == "cuda" else (lambda: None)
    fabric.seed_everything(1234)
    model = TinyLm(a.vocab, a.d_model, a.layers, a.heads, a.seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model, opt = fabric.setup(model, opt)
    device = fabric.device
    gen = torch.Generator(device=device).manual_seed(0)
    timed, n, loss = 0.0, 0, None
    for step in range(a.steps):
        sync()
        t0 = time.perf_counter()
        start = torch.randint(0, a.vocab, (a.batch_size, 1), generator=gen, device=device)
        stride = torch.randint(1, 8, (a.batch_size, 1), generator=gen, device=device)
        seqs = (start + stride * torch.arange(a.seq_len + 1, device=device)) % a.vocab
        x, y = seqs[:, :-1], seqs[:, 1:]
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        fabric.backward(loss)
        fabric.clip_gradients(model, opt, max_norm=1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        if step >= a.warmup_steps:
            timed += (time.perf_counter() - t0) * 1000
            n += 1
    print(f"done: steps={a.steps} final_loss={loss.item():.4f} mean_step_ms={timed / max(n, 1):.2f} "
          f"timed_steps={n}", flush=True)


if __name__ == "__main__":
    main()
