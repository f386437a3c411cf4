"""One torchrun-style agent: PyTorch's c10d dynamic rendezvous over a TCPStore (torch 2.x,
the repository's .venv).

Usage: torch_c10d_agent.py HOST:PORT RUN_ID NUM_NODES
Prints one line: start_us end_us rank world (the timing covers backend + handler
creation and next_rendezvous(), not `import torch`). In torch 2.x next_rendezvous()
returns a RendezvousInfo and, as under torchrun, also starts rank 0's shared TCPStore
server for the workers: part of what a torchrun agent does before it starts them.
"""
import sys
import time

from torch.distributed.elastic.rendezvous import RendezvousParameters
from torch.distributed.elastic.rendezvous.c10d_rendezvous_backend import create_backend
from torch.distributed.elastic.rendezvous.dynamic_rendezvous import create_handler


def main():
    endpoint, run_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start = time.time_ns() // 1000
    params = RendezvousParameters(
        backend="c10d", endpoint=endpoint, run_id=run_id, min_nodes=n, max_nodes=n,
        is_host=False, join_timeout=120)
    backend, store = create_backend(params)
    handler = create_handler(store, backend, params)
    info = handler.next_rendezvous()
    end = time.time_ns() // 1000
    print(start, end, info.rank, info.world_size, flush=True)
    time.sleep(1.0)  # let the others finish before this node's keep-alives stop


if __name__ == "__main__":
    main()
