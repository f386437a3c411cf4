"""A worker for standalone_test.sh: joins the group over gloo from torchrun's variables,
all-reduces rank+1, and prints one line 'rank R world W sum S' (S = W*(W+1)/2)."""
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
t = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(t)
print(f"rank {dist.get_rank()} world {os.environ['WORLD_SIZE']} sum {int(t.item())}", flush=True)
dist.destroy_process_group()
