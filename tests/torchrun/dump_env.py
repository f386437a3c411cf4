"""A worker that prints the launcher-defined part of its environment, one
`ENVDUMP <RANK> KEY=VALUE` line per variable, for env_compare.py."""
import os

KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
        "GROUP_WORLD_SIZE", "ROLE_NAME", "ROLE_RANK", "ROLE_WORLD_SIZE", "MASTER_ADDR",
        "MASTER_PORT", "OMP_NUM_THREADS", "TORCH_NCCL_ASYNC_ERROR_HANDLING")
rank = os.environ.get("RANK", "?")
names = sorted(k for k in os.environ if k in KEYS or k.startswith("TORCHELASTIC_"))
# One write(2) below PIPE_BUF: never interleaved with another worker's lines, even with
# PYTHONUNBUFFERED set (as a PyTorchJob pod has it).
text = "".join(f"ENVDUMP {rank} {k}={os.environ[k]}\n" for k in names)
os.write(1, text.encode())
