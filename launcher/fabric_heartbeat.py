"""Heartbeats for fabric-run --hang-timeout (fabric-run writes this module for its workers; its wheel installs it too).

    import fabric_heartbeat
    fabric_heartbeat.beat()   # e.g. once per training step and around collectives
    fabric_heartbeat.beat(step=i + 1, total=num_steps)   # and the progress, for status

A worker that beat once and then not for --hang-timeout is stopped as hung, after its
stack was printed. `step` (completed steps, an int >= 0) and `total` (the steps the run
makes; 0 = unknown) are optional and kept until changed; fabric-run's status shows them
with the step rate and an ETA. Without fabric-run (FABRIC_HEARTBEAT_FILE unset) beat()
does nothing; under an older fabric-run (no step words in the file) they are ignored.
"""
import mmap
import os
import struct

_MAGIC = 0x46424854  # word 2's upper half: "FBHT"
_map = None
_progress = False  # the file has words 3 (step) and 4 (total): heartbeat version >= 2


def _open(path):
    global _map, _progress
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        _progress = False
        if size >= 40:
            version = struct.unpack("<Q", os.pread(f.fileno(), 8, 16))[0]
            _progress = version >> 32 == _MAGIC and version & 0xFFFFFFFF >= 2
        _map = mmap.mmap(f.fileno(), 40 if _progress else 8)


def beat(step=None, total=None):
    if step is not None and (int(step) != step or step < 0):
        raise ValueError("fabric_heartbeat.beat: step must be an int >= 0, not %r" % (step,))
    if total is not None and (int(total) != total or total < 0):
        raise ValueError("fabric_heartbeat.beat: total must be an int >= 0, not %r" % (total,))
    if _map is None:
        path = os.environ.get("FABRIC_HEARTBEAT_FILE")
        if not path:
            return
        _open(path)
    if _progress:
        if total is not None:
            struct.pack_into("<Q", _map, 32, min(int(total), 2**64 - 1))
        if step is not None:  # word 3 is 1 + the step; 0 means not reported
            struct.pack_into("<Q", _map, 24, min(int(step), 2**64 - 3) + 1)
    struct.pack_into("<Q", _map, 0, struct.unpack_from("<Q", _map, 0)[0] + 1)
