#!/usr/bin/env bash
# Runs the rendezvous benchmarks and writes bench/rendezvous/results.md.
#   bench/rendezvous/run.sh            (REPS=5 by default; SKIP_TORCH=1 skips torchrun's c10d)
# Needs /usr/bin/python3 with Debian's torch for the torchrun comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build -c opt //rendezvous:fabric-rendezvous //rendezvous/tests:rdzv_agent \
  //bench/rendezvous:store_bench //bench/rendezvous:tcpstore_bench //bench/rendezvous:scale_bench \
  //bench/rendezvous:floor_server
BIN=$(bazel info -c opt bazel-bin)
OUT=bench/rendezvous/results.md
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

# One scale run: $1 = ours | floor, $2 = agents, $3 = extra scale_bench flags. Prints a row.
scale_row() {
  local kind=$1 n=$2 flags=${3:-}
  : > "$TMP"  # empty before the server starts, so the wait below cannot read a stale port
  if [[ $kind == floor ]]; then
    "$BIN/bench/rendezvous/floor_server" > "$TMP" &
  else
    "$BIN/rendezvous/fabric-rendezvous" --port 0 --keepalive-timeout 10m --join-timeout 10m \
      > "$TMP" &
  fi
  local sp=$! port line ms tail rss cpu
  for _ in $(seq 100); do [[ -s $TMP ]] && break; sleep 0.05; done
  port=$(head -1 "$TMP")
  [[ -n $port ]] || { echo "scale_row: $kind did not print its port" >&2; kill "$sp"; return 1; }
  # shellcheck disable=SC2086
  line=$("$BIN/bench/rendezvous/scale_bench" "127.0.0.1:$port" "$n" 64 $flags --server-pid "$sp")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$sp/stat")
  kill "$sp"; wait "$sp" || true
  ms=$(sed -n 's/.*joins_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  tail=$(sed -n 's/.*last_join_to_last_assignment_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  sess=$(sed -n 's/.*sessions_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  rss=$(sed -n 's/.*server_rss_kb=\([0-9]*\)\/\([0-9]*\).*/\1 \2/p' <<<"$line")
  read -r r0 r1 <<<"$rss"
  echo "| $kind${flags:+ $flags} | $n | ${sess} | $ms | $tail | $cpu | $(( (r1 - r0) * 1024 / n )) | $(load) |"
}

{
  echo "## Rendezvous ($(nproc) cores, $(date -u '+%F %H:%M UTC'), load average at start: $(load))"
  echo
  echo "Command: \`bench/rendezvous/run.sh\` (REPS=${REPS:-5}, binaries built with -c opt)."
  echo
  echo "### 1. Rendezvous latency, N agents as separate processes (median of ${REPS:-5})"
  echo
  /usr/bin/python3 bench/rendezvous/rdzv_latency.py "$BIN"
  echo
  echo "Load average after section 1: $(load)"
  echo
  echo "### 2. Scale: simulated agents joining one server (64 connections)"
  echo
  echo "floor = a gRPC server that only holds the Join calls and answers them (bench/rendezvous/floor_server.cc);"
  echo "--sessions = every simulated agent first opens its session stream (kept open)."
  echo
  echo "| server | agents | all sessions open (ms) | all joined (ms) | last Join sent -> last assignment (ms) | server CPU (s) | server RSS per agent (bytes) | load after |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for N in 1000 4000 16000; do
    scale_row floor "$N"
    scale_row ours "$N"
    scale_row ours "$N" --sessions
  done
  echo
  echo "### 3. Store operations (loopback)"
  echo
  "$BIN/bench/rendezvous/store_bench" 2000
  echo
  "$BIN/bench/rendezvous/tcpstore_bench" 2000
  echo
  echo "Load average at the end: $(load)"
} | tee "$OUT"
