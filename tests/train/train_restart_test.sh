#!/usr/bin/env bash
# The example trainer under the real fabric-run: `fabric-run --devices 2 --max-restarts 1
# train`, and rank 1 is SIGKILLed from outside once a checkpoint exists. fabric-run stops
# the gang, restarts it (TORCHELASTIC_RESTART_COUNT=1), the trainer resumes from its last
# checkpoint and finishes; fabric-run exits 0. Negative control: with --max-restarts 0
# the same kill ends the job with rank 1's signal (exit 137).
set -uo pipefail
FAILURES=0
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
PASSES=0
pass() { echo "PASS: $*"; PASSES=$((PASSES + 1)); }
runfile() {
  local p
  for p in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/$1" "$(dirname "$0")/../../$1"; do
    [[ -x $p ]] && { echo "$p"; return 0; }
  done
  echo "runfile $1 not found" >&2
  return 1
}
FR=$(runfile launcher/fabric-run) || exit 1
TRAIN=$(runfile examples/train/train) || exit 1
DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/train_restart.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$DIR"; }
trap cleanup EXIT
ARGS=(--steps 300 --ckpt-every 5 --log-every 5 --d-model 32 --seq-len 16 --batch-size 4
      --layers 1 --lr 0.01)

# run_case NAME MAX_RESTARTS: runs the job, SIGKILLs rank 1 once last.ckpt exists;
# sets RC and OUT.
run_case() {
  local ckpt="$DIR/$1.ckpt" log="$DIR/$1.log"
  mkdir -p "$ckpt"
  "$FR" --devices 2 --max-restarts "$2" --grace-period 5 --log-dir "$DIR/$1.logs" \
    --run-id "$1" "$TRAIN" "${ARGS[@]}" --ckpt-dir "$ckpt" >"$log" 2>&1 &
  local agent=$!
  PIDS+=("$agent")
  local deadline=$((SECONDS + 240)) victim=""
  until [[ -e $ckpt/last.ckpt ]]; do
    ((SECONDS < deadline)) || { fail "$1: no checkpoint appeared: $(cat "$log")"; break; }
    sleep 0.1
  done
  # Rank 1 is the worker whose environment says RANK=1 (children of the agent only).
  while [[ -z $victim ]] && kill -0 "$agent" 2>/dev/null && ((SECONDS < deadline)); do
    for p in $(pgrep -P "$agent"); do
      if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'RANK=1'; then victim=$p; fi
    done
    [[ -n $victim ]] || sleep 0.05
  done
  [[ -n $victim ]] && kill -KILL "$victim" || fail "$1: rank 1 not found among the agent's children"
  wait "$agent"
  RC=$?
  OUT=$(cat "$log")
}

echo "== --max-restarts 1: rank 1 SIGKILLed mid-run; the gang restarts and resumes"
run_case resume 1
echo "$OUT"
[[ $RC -eq 0 ]] && pass "exit status 0" || fail "exit status $RC (want 0)"
grep -q "root cause: rank 1 .*SIGKILL" <<<"$OUT" && pass "report names rank 1 and SIGKILL" ||
  fail "no root cause naming rank 1 / SIGKILL"
grep -q "resumed from .* at step [1-9]" <<<"$OUT" && pass "resumed from a checkpoint" ||
  fail "no 'resumed from ... at step N'"
grep -q "done: steps=300" <<<"$OUT" && pass "finished all 300 steps" || fail "did not finish"
[[ -d $DIR/resume.logs/resume/attempt_1 ]] && pass "attempt_1 logs exist" || fail "no attempt_1 logs"

echo "== negative control: --max-restarts 0: the same kill ends the job"
run_case norestart 0
[[ $RC -eq 137 ]] && pass "exit status 137 (128 + SIGKILL)" || fail "exit status $RC (want 137)"
grep -q "done: steps=300" <<<"$OUT" && fail "finished without a restart?" || pass "did not finish"

echo "$PASSES passed, $FAILURES failed"
((FAILURES == 0))
