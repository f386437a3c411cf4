#!/usr/bin/env bash
# Builds the launcher and the benchmark tools (-c opt) and runs the launcher benchmarks
# against /usr/bin/torchrun. Writes bench/results/launcher.{md,json} and
# bench/results/launcher_cold_start.png, then reassembles bench/RESULTS.md.
# Arguments go to bench/launcher_bench.py (--quick for a smoke run, --no-fabric for the
# torchrun side only). Takes ~8 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
targets=(//bench/harness:timed_run //bench/harness:spawn_baseline //bench/workers:bench_worker)
if [[ " $* " != *" --no-fabric "* ]]; then targets+=(//launcher:fabric-run); fi
bazel build -c opt "${targets[@]}"
bazel shutdown >/dev/null 2>&1 || true
exec /usr/bin/python3 bench/launcher_bench.py --bin-dir "$(pwd)/bazel-bin" "$@"
