#!/bin/bash
# A real Prometheus server (Debian's prometheus) scrapes a real job: fabric-rendezvous
# --metrics-port and two agents --metrics-port (2 nodes x 2 workers on loopback) through a
# failure and one restart. Checks, through Prometheus' own query API: every target is up, the
# restart is counted by both agents and the rendezvous, the failure once with its cause, and
# the gauges say two workers run on each node.
set -euo pipefail
source "$(dirname "$0")/sh_test_lib.sh"
FABRIC_RUN=$(runfile launcher/fabric-run)
RDZV=$(runfile rendezvous/fabric-rendezvous)
PROM=$(command -v prometheus || true)
[[ -n $PROM ]] || { echo "FAIL: prometheus is not installed (tools/setup.sh installs it)"; exit 1; }

WORK=$(mktemp -d "${TEST_TMPDIR:-/tmp}/prom.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # FILE PATTERN: until a line of FILE matches (30 s)
  for _ in $(seq 300); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "FAIL: no '$2' in $1:"; cat "$1"; exit 1
}

cat > "$WORK/worker.sh" <<'W'
#!/bin/bash
# Global rank 3 fails in the first attempt; then every rank runs until stopped.
if [[ $TORCHELASTIC_RESTART_COUNT == 0 && $RANK == 3 ]]; then sleep 1; exit 3; fi
exec sleep 600
W
chmod +x "$WORK/worker.sh"

"$RDZV" --port 0 --metrics-port 0 >"$WORK/rdzv.out" 2>"$WORK/rdzv.err" &
PIDS+=($!)
wait_for "$WORK/rdzv.out" '^[0-9]+$'
RDZV_PORT=$(head -1 "$WORK/rdzv.out")
wait_for "$WORK/rdzv.err" 'metrics at http://[^:]+:[0-9]+/metrics'
P0=$(grep -oE 'metrics at http://[^:]+:[0-9]+' "$WORK/rdzv.err" | grep -oE '[0-9]+$')
for node in 0 1; do
  "$FABRIC_RUN" --devices 2 --num-nodes 2 --node-rank $node --rdzv-endpoint "127.0.0.1:$RDZV_PORT" \
    --run-id promjob --max-restarts 2 --grace-period 1s --metrics-port 0 "$WORK/worker.sh" \
    >"$WORK/agent$node.out" 2>"$WORK/agent$node.err" &
  PIDS+=($!)
done
wait_for "$WORK/agent0.err" 'metrics at http://'
wait_for "$WORK/agent1.err" 'metrics at http://'
P1=$(grep -oE 'metrics at http://[^:]+:[0-9]+' "$WORK/agent0.err" | grep -oE '[0-9]+$')
P2=$(grep -oE 'metrics at http://[^:]+:[0-9]+' "$WORK/agent1.err" | grep -oE '[0-9]+$')

WEB=$(free_port)
cat > "$WORK/prometheus.yml" <<C
global:
  scrape_interval: 250ms
  scrape_timeout: 200ms
scrape_configs:
  - job_name: fabric
    static_configs:
      - targets: ['127.0.0.1:$P0', '127.0.0.1:$P1', '127.0.0.1:$P2']
C
"$PROM" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$WEB" >"$WORK/prom.log" 2>&1 &
PIDS+=($!)

# query EXPR -> "instance=value" lines, sorted (empty when no series)
query() {
  "$PYTHON" - "$WEB" "$1" <<'Q'
import json, sys, urllib.parse, urllib.request
port, expr = sys.argv[1], sys.argv[2]
try:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    data = json.load(urllib.request.urlopen(url, timeout=2))
except Exception:
    sys.exit(0)
for r in sorted(data["data"]["result"], key=lambda r: r["metric"].get("instance", "")):
    print(f'{r["metric"].get("instance", "")}={float(r["value"][1]):g}')
Q
}
# expect EXPR WANT: until Prometheus answers WANT (30 s)
expect() {
  local got=""
  for _ in $(seq 120); do
    got=$(query "$1" | tr '\n' ' ')
    [[ $got == "$2" ]] && { echo "ok: $1 = $got"; return 0; }
    sleep 0.25
  done
  echo "FAIL: $1 = '$got', expected '$2'"
  echo "--- agent0"; cat "$WORK/agent0.err"; echo "--- agent1"; cat "$WORK/agent1.err"
  echo "--- prometheus"; tail -20 "$WORK/prom.log"
  exit 1
}
A0=127.0.0.1:$P1 A1=127.0.0.1:$P2 R=127.0.0.1:$P0
# Sorted by instance (string order of the ports).
ordered() { printf '%s\n' "$@" | sort | tr '\n' ' '; }
expect 'up' "$(ordered "$R=1" "$A0=1" "$A1=1")"
expect 'fabric_restarts_total' "$(ordered "$A0=1" "$A1=1")"
expect 'fabric_attempts_total' "$(ordered "$A0=2" "$A1=2")"
expect 'fabric_rendezvous_restarts' "$R=1 "
expect 'sum(fabric_worker_failures_total)' "=1 "
expect 'fabric_worker_failures_total{cause="exit_code"}' "$A1=1 "
expect 'fabric_workers_running' "$(ordered "$A0=2" "$A1=2")"
expect 'fabric_restarts_left' "$(ordered "$A0=1" "$A1=1")"
expect 'fabric_rendezvous_members' "$R=2 "
expect 'count(fabric_rank_resident_memory_bytes > 0)' "=4 "
# The real exposition text of each (not a rendered sample) passes promtool's linter.
for port in "$P0" "$P1" "$P2"; do
  "$PYTHON" -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(
      'http://127.0.0.1:$port/metrics', timeout=5).read().decode())" >"$WORK/metrics.$port"
  grep -q '^fabric_' "$WORK/metrics.$port" || { echo "FAIL: no fabric_ series on $port"; exit 1; }
  if ! promtool check metrics <"$WORK/metrics.$port" >"$WORK/promtool.$port" 2>&1; then
    echo "FAIL: promtool check metrics on port $port:"; cat "$WORK/promtool.$port"; exit 1
  fi
  echo "ok: promtool check metrics, port $port"
done
echo PASS
