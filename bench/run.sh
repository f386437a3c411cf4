#!/usr/bin/env bash
# Builds the launcher and the benchmark tools (-c opt) and runs the launcher benchmarks
# against the peers in the repository's .venv, in the same run: torchrun (torch 2.11) and
# Lightning's `fabric run`. Writes bench/results/launcher.{md,json} and
# bench/results/launcher_cold_start.svg, then reassembles bench/RESULTS.md.
# Arguments go to bench/launcher_bench.py (--quick for a smoke run, --no-fabric for the
# peers only, --out DIR to write elsewhere). Takes ~20 minutes on a 2-core machine.
# BIN_DIR=DIR bench/run.sh ...: use binaries already built with -c opt under DIR (laid out
# as bazel-bin: DIR/launcher/fabric-run, DIR/bench/harness/timed_run, ...); no Bazel, and
# no relink experiment (an earlier bench/out/variants/fabric-run-static is measured if there).
set -euo pipefail
BIN_DIR=${BIN_DIR:+$(realpath "$BIN_DIR")}
cd "$(dirname "$0")/.."
bash tools/setup.sh
[[ -x .venv/bin/python ]] || { echo ".venv/bin/python is missing: run \`bash tools/setup.sh\`" >&2; exit 1; }
if [[ -n ${BIN_DIR:-} ]]; then
  bin_dir=$BIN_DIR
else
  targets=(//bench/harness:timed_run //bench/harness:spawn_baseline //bench/workers:bench_worker)
  if [[ " $* " != *" --no-fabric "* ]]; then
    targets+=(//launcher:fabric-run //bench/harness:fabric-run-nogrpc)
  fi
  bazel build -c opt "${targets[@]}"
  bin_dir=$(bazel info -c opt bazel-bin 2>/dev/null)
  # The relinked-static experiment (optional: the benchmark runs without it).
  rm -f bench/out/variants/fabric-run-static
  if [[ " $* " != *" --no-fabric "* ]]; then
    bash bench/relink_fabric_run.sh || echo "relink experiment skipped"
  fi
  bazel shutdown >/dev/null 2>&1 || true
fi
exec .venv/bin/python bench/launcher_bench.py --bin-dir "$bin_dir" "$@"
