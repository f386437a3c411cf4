"""Heartbeats through fabric-run's helper (fabric_heartbeat, on PYTHONPATH under
fabric-run). On the first attempt rank 1 stops taking part in the all-reduces after two
steps but stays alive and beating, so rank 0 blocks forever in a Gloo all_reduce and
stops beating. Prints LAST_BEAT <unix time> (rank 0's beat before it blocks) and, once
every step is done, DONE rank=<r> restart=<n> sum=<x>."""
import os
import time

import torch
import torch.distributed as dist

import fabric_heartbeat

dist.init_process_group("gloo")
rank = dist.get_rank()
restart = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
t = torch.ones(4)
for step in range(4):
    fabric_heartbeat.beat()
    if restart == 0 and step == 2:
        if rank == 1:
            while True:
                fabric_heartbeat.beat()
                time.sleep(0.2)
        print(f"LAST_BEAT {time.time():.3f}", flush=True)
    t = torch.ones(4)
    dist.all_reduce(t)
print(f"DONE rank={rank} restart={restart} sum={t[0].item():.0f}", flush=True)
dist.destroy_process_group()  # else Gloo's threads may abort the exit (std::terminate)
