#!/bin/bash
# fabric-run top in a real terminal (tmux): a 2 x 2 job on loopback; top's screen, read with
# capture-pane, shows the job's header and 4 rank rows with the workers' real pids; `q` quits.
# Negative control: before the job starts, top says no job runs and exits 1.
set -euo pipefail
source "$(dirname "$0")/sh_test_lib.sh"
FABRIC_RUN=$(runfile launcher/fabric-run)
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (tools/setup.sh installs it)"; exit 1; }
JOBTMP=$(mktemp -d /tmp/fabric-top-test-XXXXXX)  # short: socket paths live under it
WORK=$(mktemp -d "${TEST_TMPDIR:-/tmp}/top.XXXXXX")
SOCK=fabric-top-test-$$
PIDS=()
cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rmdir "$JOBTMP" 2>/dev/null || true
}
trap cleanup EXIT
screen() { tmux -L "$SOCK" capture-pane -p -t top; }

# No job yet: one line, exit 1 (run in tmux too: top needs a terminal).
tmux -L "$SOCK" new-session -d -s none -x 150 -y 40 \
  "TMPDIR=$JOBTMP $FABRIC_RUN top 2> $WORK/none.out; echo rc=\$? >> $WORK/none.out"
for _ in $(seq 100); do grep -q rc= "$WORK/none.out" 2>/dev/null && break; sleep 0.1; done
grep -q 'rc=1' "$WORK/none.out" || { echo "FAIL: top without a job:"; cat "$WORK/none.out"; exit 1; }
grep -q 'no fabric-run job is running here' "$WORK/none.out" || { cat "$WORK/none.out"; exit 1; }

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/helper"
for node in 0 1; do
  TMPDIR=$JOBTMP "$FABRIC_RUN" --devices 2 --num-nodes 2 --node-rank $node --main-address 127.0.0.1 \
    --main-port "$PORT" --run-id topjob --grace-period 1s sh -c 'echo $$ > '"$WORK/helper"'/pid_$RANK; exec sleep 600' \
    >"$WORK/agent$node.log" 2>&1 &
  PIDS+=($!)
done
for r in 0 1 2 3; do
  for _ in $(seq 300); do [[ -s $WORK/helper/pid_$r ]] && break; sleep 0.1; done
  [[ -s $WORK/helper/pid_$r ]] || { echo "FAIL: rank $r did not start"; cat "$WORK"/agent*.log; exit 1; }
done

tmux -L "$SOCK" new-session -d -s top -x 150 -y 40 "TMPDIR=$JOBTMP $FABRIC_RUN top"
ok=""
for _ in $(seq 100); do
  s=$(screen || true)
  rows=0
  for r in 0 1 2 3; do
    pid=$(cat "$WORK/helper/pid_$r")
    grep -qE "^$r +[^ ]+ +$pid +running" <<<"$s" && rows=$((rows + 1))
  done
  if [[ $rows == 4 ]] && grep -q 'run topjob' <<<"$s" && grep -q 'q quits' <<<"$s"; then ok=1; break; fi
  sleep 0.1
done
[[ -n $ok ]] || { echo "FAIL: top's screen lacks the 4 rank rows:"; screen; exit 1; }
echo "ok: top shows 4 rows"
screen | sed -n '1,12p'
tmux -L "$SOCK" send-keys -t top q
for _ in $(seq 50); do tmux -L "$SOCK" has-session -t top 2>/dev/null || { echo "ok: q quit"; echo PASS; exit 0; }; sleep 0.1; done
echo "FAIL: top still runs after q"; screen; exit 1
