#!/usr/bin/env bash
# Runs the rendezvous benchmarks and writes bench/rendezvous/results.md.
#   bench/rendezvous/run.sh            (REPS=5 by default; SKIP_TORCH=1 skips torchrun's c10d)
# Needs /usr/bin/python3 with Debian's torch for the torchrun comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build -c opt //rendezvous:fabric-rendezvous //rendezvous/tests:rdzv_agent \
  //bench/rendezvous:store_bench //bench/rendezvous:tcpstore_bench //bench/rendezvous:scale_bench
BIN=$(bazel info -c opt bazel-bin)
OUT=bench/rendezvous/results.md
{
  echo "## Rendezvous ($(nproc) cores, $(date -u +%F))"
  echo
  echo "### 1. Rendezvous latency, N agents as separate processes (median of \${REPS:-5})"
  echo
  /usr/bin/python3 bench/rendezvous/rdzv_latency.py "$BIN"
  echo
  echo "### 2. Scale: simulated agents joining one server (64 connections)"
  echo
  echo "| agents | all joined (ms) | server RSS growth per agent (bytes) |"
  echo "|---:|---:|---:|"
  for N in 1000 4000 16000; do
    "$BIN/rendezvous/fabric-rendezvous" --port 0 --keepalive-timeout 10m --join-timeout 10m \
      > /tmp/fabric-scale-srv.$$ &
    SP=$!
    for _ in $(seq 100); do [[ -s /tmp/fabric-scale-srv.$$ ]] && break; sleep 0.05; done
    PORT=$(head -1 /tmp/fabric-scale-srv.$$)
    R0=$(awk '/VmRSS/{print $2}' /proc/$SP/status)
    LINE=$("$BIN/bench/rendezvous/scale_bench" "127.0.0.1:$PORT" "$N" 64)
    R1=$(awk '/VmRSS/{print $2}' /proc/$SP/status)
    MS=$(sed -n 's/.*joins_ms=\([0-9.]*\).*/\1/p' <<<"$LINE")
    echo "| $N | $MS | $(( (R1 - R0) * 1024 / N )) |"
    kill "$SP"; wait "$SP" || true
  done
  rm -f /tmp/fabric-scale-srv.$$
  echo
  echo "### 3. Store operations (loopback)"
  echo
  "$BIN/bench/rendezvous/store_bench" 2000
  echo
  "$BIN/bench/rendezvous/tcpstore_bench" 2000
} | tee "$OUT"
