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
bin_dir=$(bazel info -c opt bazel-bin 2>/dev/null)
# The relinked-static experiment (optional: the benchmark runs without it).
rm -f bench/out/variants/fabric-run-static
if [[ " $* " != *" --no-fabric "* ]]; then
  bash bench/relink_fabric_run.sh || echo "relink experiment skipped"
fi
bazel shutdown >/dev/null 2>&1 || true
exec /usr/bin/python3 bench/launcher_bench.py --bin-dir "$bin_dir" "$@"
