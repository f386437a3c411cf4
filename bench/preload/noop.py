"""A no-op Python worker whose whole work is `import torch` (bench/preload)."""
import torch  # noqa: F401
