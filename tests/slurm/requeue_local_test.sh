#!/usr/bin/env bash
# --requeue-on-signal without a cluster (no root needed): fabric-run in a SLURM job's
# shell context (SLURM_JOB_ID set, no srun step) with a stand-in `scontrol` in PATH that
# records its arguments. SIGUSR1 to fabric-run: the workers get it, are stopped after
# the grace period, `scontrol requeue <job>` runs, fabric-run exits 0. A failing
# scontrol makes it exit 1 with the reason; without SLURM_JOB_ID the flag is refused
# (exit 2, nothing spawned). The real-cluster version is srun_signal_test.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
FR=$(find_runfile launcher/fabric-run) || exit 1
WH=$(find_runfile tests/worker_helper) || exit 1
DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/requeue.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/bin"
fake_scontrol() {  # fake_scontrol EXIT_CODE
  printf '#!/bin/sh\necho "$@" >> %s/scontrol.args\nexit %s\n' "$DIR" "$1" >"$DIR/bin/scontrol"
  chmod +x "$DIR/bin/scontrol"
}
wait_for() {  # wait_for COUNT PATTERN FILE (60 s)
  local deadline=$((SECONDS + 60))
  until (($(grep -c -- "$2" "$3" 2>/dev/null) >= $1)); do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# run_case NAME SCONTROL_EXIT: prints fabric-run's exit status.
run_case() {
  local out="$DIR/$1.out"
  fake_scontrol "$2"
  rm -f "$DIR/scontrol.args"
  env PATH="$DIR/bin:$PATH" SLURM_JOB_ID=77 "$FR" --devices 2 --requeue-on-signal USR1 \
    --grace-period 1 "$WH" signals >"$out" 2>&1 &
  local pid=$!
  wait_for 2 ready "$out" || fail "$1: workers not ready: $(cat "$out")"
  kill -USR1 "$pid"
  wait "$pid"
  echo $?
}

echo "== SIGUSR1: forwarded, workers stopped after the grace period, requeued, exit 0"
rc=$(run_case ok 0)
out=$(cat "$DIR/ok.out")
echo "$out"
expect_eq "exit status" 0 "$rc"
expect_eq "scontrol arguments" "requeue 77" "$(cat "$DIR/scontrol.args" 2>/dev/null)"
expect_contains "rank 0 got SIGUSR1" "[rank 0]: rank 0 got SIGUSR1" "$out"
expect_contains "rank 1 got SIGUSR1" "[rank 1]: rank 1 got SIGUSR1" "$out"
expect_contains "rank 1 stopped" "[rank 1]: rank 1 got SIGTERM" "$out"
expect_contains "announced" "fabric-run: requeueing SLURM job 77: scontrol requeue 77" "$out"

echo "== scontrol fails: exit 1 with the reason"
rc=$(run_case bad 1)
out=$(cat "$DIR/bad.out")
expect_eq "exit status" 1 "$rc"
expect_contains "reason" "fabric-run: requeue: scontrol requeue 77 failed (exit code 1)" "$out"

echo "== negative control: without the flag SIGUSR1 only reaches the workers"
fake_scontrol 0
rm -f "$DIR/scontrol.args"
env PATH="$DIR/bin:$PATH" SLURM_JOB_ID=77 "$FR" --devices 2 --grace-period 1 "$WH" signals \
  >"$DIR/plain.out" 2>&1 &
pid=$!
wait_for 2 ready "$DIR/plain.out"
kill -USR1 "$pid"
wait_for 2 'got SIGUSR1' "$DIR/plain.out"
kill -0 "$pid" 2>/dev/null && pass "still running after SIGUSR1" || fail "fabric-run ended on SIGUSR1"
kill -TERM "$pid"
wait "$pid"
[[ ! -e $DIR/scontrol.args ]] && pass "scontrol not run" || fail "scontrol ran without the flag"

echo "== two agents in a (simulated) srun step, one task per node: SIGUSR1 -> node 0 requeues"
fake_scontrol 0
rm -f "$DIR/scontrol.args"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step_env() {  # step_env NODE: the SLURM variables of task NODE of a 2-node, 1-task-per-node step
  echo SLURM_JOB_ID=77 SLURM_STEP_ID=0 SLURM_PROCID=$1 SLURM_NODEID=$1 SLURM_LOCALID=0 \
    SLURM_NTASKS=2 SLURM_NNODES=2 SLURM_STEP_NUM_NODES=2 SLURM_STEP_NUM_TASKS=2 \
    SLURM_STEP_NODELIST=localhost,localhost SLURM_JOB_NODELIST=localhost,localhost \
    SLURM_TASKS_PER_NODE="1(x2)" SLURM_STEP_TASKS_PER_NODE="1(x2)" MASTER_PORT=$port
}
mn=(--devices 2 --requeue-on-signal USR1 --grace-period 1)
env PATH="$DIR/bin:$PATH" $(step_env 0) "$FR" "${mn[@]}" "$WH" signals >"$DIR/mn0.out" 2>&1 &
pid0=$!
env PATH="$DIR/bin:$PATH" $(step_env 1) "$FR" "${mn[@]}" "$WH" signals >"$DIR/mn1.out" 2>&1 &
pid1=$!
if wait_for 2 ready "$DIR/mn0.out" && wait_for 2 ready "$DIR/mn1.out"; then
  kill -USR1 "$pid0" "$pid1"
else
  fail "multi-node workers not ready: $(cat "$DIR/mn0.out" "$DIR/mn1.out")"
  kill -TERM "$pid0" "$pid1"
fi
wait "$pid0"; rc0=$?
wait "$pid1"; rc1=$?
cat "$DIR/mn0.out" "$DIR/mn1.out"
expect_eq "node 0 exit status" 0 "$rc0"
expect_eq "node 1 exit status" 0 "$rc1"
expect_eq "scontrol ran once (node 0)" "requeue 77" "$(cat "$DIR/scontrol.args" 2>/dev/null)"
expect_contains "node 0's worker got SIGUSR1" "got SIGUSR1" "$(cat "$DIR/mn0.out")"
expect_contains "node 1's worker got SIGUSR1" "got SIGUSR1" "$(cat "$DIR/mn1.out")"

echo "== outside a SLURM job: refused before anything starts"
out=$(env -u SLURM_JOB_ID -u SLURM_JOBID HELPER_DIR="$DIR" "$FR" --requeue-on-signal USR1 "$WH" env 2>&1)
rc=$?
expect_eq "exit status" 2 "$rc"
expect_contains "message" "--requeue-on-signal requeues the SLURM job, but SLURM_JOB_ID is not set" "$out"
[[ ! -e $DIR/worker_0.pid ]] && pass "nothing spawned" || fail "a worker ran"

if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
