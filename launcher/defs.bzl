"""Link options shared by fabric-run and its benchmark variants."""

# libstdc++ and libgcc linked in: the loader then maps only libc and libm, which halves
# `fabric-run --version` (2.1 -> 1.2 ms of CPU; bench/results/launcher.md).
FABRIC_RUN_LINKOPTS = [
    "-Wl,--as-needed",
    "-Wl,--whole-archive",
    "-l:libstdc++.a",
    "-Wl,--no-whole-archive",
    "-static-libgcc",
    # Not position-independent: the static gRPC, OpenSSL and absl carry ~38k relative
    # relocations that a PIE must apply (and page in) at every start.
    "-no-pie",
]
