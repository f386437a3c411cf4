#!/usr/bin/env bash
# Runs the rendezvous benchmarks and writes bench/rendezvous/results.md (then reassembles
# bench/RESULTS.md).
#   bench/rendezvous/run.sh            (REPS=5 by default; SKIP_TORCH=1 skips torch's c10d)
# The torch side (the c10d rendezvous agents, tcpstore_bench's TCPStore) is torch 2.11 from
# the repository's .venv (tools/setup.sh makes it). Settings, from the environment:
#   BIN_DIR=DIR        binaries already built with -c opt, laid out as bazel-bin (no Bazel)
#   OUT=FILE           write the results there instead (bench/RESULTS.md is then left alone)
#   AGENTS="2 8 32"    section 1's agent counts (torch's c10d only up to 8)
#   SCALE_AGENTS="1000 4000 16000"   section 2's simulated agents; STORE_OPS=2000 (section 3)
set -euo pipefail
BIN_DIR=${BIN_DIR:+$(realpath "$BIN_DIR")}
OUT=${OUT:+$(realpath -m "$OUT")}
cd "$(dirname "$0")/../.."
PYTHON=.venv/bin/python
[[ -x $PYTHON ]] || { echo ".venv/bin/python is missing: run \`bash tools/setup.sh\`" >&2; exit 1; }
if [[ -n ${BIN_DIR:-} ]]; then
  BIN=$BIN_DIR
else
  bazel build -c opt //rendezvous:fabric-rendezvous //rendezvous/tests:rdzv_agent \
    //bench/rendezvous:tcpstore_bench \
    //bench/rendezvous:scale_bench //bench/rendezvous:floor_server
  BIN=$(bazel info -c opt bazel-bin)
fi
DEFAULT_OUT=$PWD/bench/rendezvous/results.md
OUT=${OUT:-$DEFAULT_OUT}
SCALE_AGENTS=${SCALE_AGENTS:-1000 4000 16000}
STORE_OPS=${STORE_OPS:-2000}
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
  echo "torch $("$PYTHON" -c 'import torch; print(torch.__version__)') from .venv: the c10d rendezvous and"
  echo "tcpstore_bench's TCPStore. Earlier figures with torch 1.13: bench/history/torch-1.13/rendezvous.md."
  echo
  echo "### 1. Rendezvous latency, N agents as separate processes (median of ${REPS:-5})"
  echo
  "$PYTHON" bench/rendezvous/rdzv_latency.py "$BIN"
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
  for N in $SCALE_AGENTS; do
    scale_row floor "$N"
    scale_row ours "$N"
    scale_row ours "$N" --sessions
  done
  echo
  echo "### 3. Store operations (loopback)"
  echo
  "$BIN/bench/rendezvous/tcpstore_bench" "$STORE_OPS"
  echo
  echo "Load average at the end: $(load)"
} | tee "$OUT"
if [[ $OUT == "$DEFAULT_OUT" ]]; then "$PYTHON" bench/assemble_results.py; fi
