#!/usr/bin/env bash
# Hang detection with real workers (launcher/hang_watch.h):
#  1. torch's file timer: an unmodified script's `expires(after=2)` around a 60 s sleep
#     is stopped and reported (scope, where it was) within 3 s of entering the scope.
#  2. heartbeats: a Python rank that beat and then blocks forever in a Gloo all_reduce
#     is found hung within --hang-timeout + 1 s, its stack (all_reduce, the script's
#     line) is in the report, and the restart succeeds. The rank that keeps beating
#     while it waits is not stopped (negative control).
#  3. the same for the C++ runtime: its SIGABRT handler prints the native stack.
# With FABRIC_PRELOAD set (//tests:hang_preload_test), 1 and 2 run on workers forked by a
# --preload zygote (3 is native: the variable does not apply) and must not fall back.
set -u
RUNFILES=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-fabric_run}
FR=$RUNFILES/launcher/fabric-run
WORKER=$RUNFILES/tests/runtime/worker
PY=${FABRIC_VENV_PYTHON:-}
[[ -n $PY && -x $PY ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PY' is not an interpreter: run tools/setup.sh"; exit 1; }
DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/hang.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# stamp: every line of stdin prefixed with the unix time it arrived.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done; }
t_of() { grep -m1 "$1" "$2" | awk '{print $1}'; }  # arrival time of the first match

# --- 1. file timer ------------------------------------------------------------------
"$FR" --devices 2 --grace-period 2s --python "$PY" "$RUNFILES/tests/python/expires_sleep.py" \
  2>&1 | stamp >"$DIR/t1"
entered=$(grep -o 'SCOPE_ENTERED [0-9.]*' "$DIR/t1" | awk '{print $2}')
reported=$(t_of "root cause:" "$DIR/t1")
grep -q "rank 1 was hung: its timer 'slow_step' expired" "$DIR/t1" || fail "file timer: no hang line: $(cat "$DIR/t1")"
grep -q "where: <module> (expires_sleep.py:" "$DIR/t1" || fail "file timer: no stack: $(cat "$DIR/t1")"
if [[ -n $entered && -n $reported ]]; then
  took=$(echo "$reported - $entered" | bc)
  (( $(echo "$took < 3" | bc) )) || fail "file timer: reported $took s after entering the scope (want < 3)"
  echo "ok 1: expires(after=2) stopped and reported $took s after the scope began"
else
  fail "file timer: entered='$entered' reported='$reported'"
fi

# --- 2. Python heartbeats, a Gloo all_reduce that never completes -------------------
"$FR" --devices 2 --grace-period 2s --hang-timeout 3s --max-restarts 1 --python "$PY" \
  --events "$DIR/events2.jsonl" "$RUNFILES/tests/python/allreduce_hang.py" 2>&1 | stamp >"$DIR/t2"
rc=${PIPESTATUS[0]}
# The event log: one hang (rank 0), then the restart, in that order.
hang_line=$(grep -n '"name":"fabric.hang"' "$DIR/events2.jsonl" | head -1 | cut -d: -f1)
restart_line=$(grep -n '"name":"fabric.restart"' "$DIR/events2.jsonl" | head -1 | cut -d: -f1)
[[ $(grep -c '"name":"fabric.hang"' "$DIR/events2.jsonl") == 1 ]] ||
  fail "heartbeat: not one fabric.hang record: $(cat "$DIR/events2.jsonl")"
grep '"name":"fabric.hang"' "$DIR/events2.jsonl" | grep -q '"global_rank":0' ||
  fail "heartbeat: the fabric.hang record is not rank 0's"
[[ -n $hang_line && -n $restart_line && $hang_line -lt $restart_line ]] ||
  fail "heartbeat: fabric.hang (line '$hang_line') not before fabric.restart (line '$restart_line')"
[[ $rc == 0 ]] || fail "heartbeat: exit $rc: $(cat "$DIR/t2")"
last=$(grep -o 'LAST_BEAT [0-9.]*' "$DIR/t2" | awk '{print $2}')
hung=$(t_of "rank 0 (pid [0-9]*) is hung: no heartbeat" "$DIR/t2")
if [[ -n $last && -n $hung ]]; then
  took=$(echo "$hung - $last" | bc)
  (( $(echo "$took < 4" | bc) )) || fail "heartbeat: found hung $took s after its last beat (want < 3 + 1)"
  echo "ok 2: a rank blocked in all_reduce was found hung $took s after its last beat (--hang-timeout 3s)"
else
  fail "heartbeat: last='$last' hung='$hung': $(cat "$DIR/t2")"
fi
grep -q "where: all_reduce (distributed_c10d.py:[0-9]*) <- .*allreduce_hang.py:[0-9]*)" "$DIR/t2" ||
  fail "heartbeat: the report has no stack: $(grep 'where:' "$DIR/t2")"
grep -q "rank 1 (pid [0-9]*) is hung" "$DIR/t2" && fail "heartbeat: rank 1 kept beating but was stopped"
[[ $(grep -c "DONE rank=[01] restart=1 sum=2" "$DIR/t2") == 2 ]] ||
  fail "heartbeat: the restart did not finish: $(tail -5 "$DIR/t2")"

# --- 3. the C++ runtime ------------------------------------------------------------
"$FR" --devices 2 --grace-period 2s --hang-timeout 2s --max-restarts 1 -- "$WORKER" \
  hang_in_collective 2>&1 | stamp >"$DIR/t3"
rc=${PIPESTATUS[0]}
[[ $rc == 0 ]] || fail "runtime: exit $rc: $(cat "$DIR/t3")"
grep -q "rank 0 (pid [0-9]*) is hung: no heartbeat" "$DIR/t3" || fail "runtime: rank 0 not found hung: $(cat "$DIR/t3")"
grep -q "fabric runtime: SIGABRT; stack" "$DIR/t3" || fail "runtime: no native stack printed"
where=$(grep -m1 "where:" "$DIR/t3")
[[ $where == *"c10d::"* || $where == *"gloo::"* || $where == *"fabric::runtime::"* ]] ||
  fail "runtime: the report's stack names no collective: $where"
[[ $(grep -c "HANG_DONE rank=[01] restart=1" "$DIR/t3") == 2 ]] || fail "runtime: the restart did not finish"
echo "ok 3: the C++ runtime's hung rank: ${where#* where: }"

if [[ -n ${FABRIC_PRELOAD:-} ]]; then
  grep -h "spawning Python workers normally" "$DIR/t1" "$DIR/t2" &&
    fail "--preload $FABRIC_PRELOAD fell back to spawning"
  echo "ok: 1 and 2 ran on workers forked by the --preload $FABRIC_PRELOAD zygote"
fi

if ((FAILS > 0)); then
  echo "$FAILS failure(s)"
  exit 1
fi
echo PASS
