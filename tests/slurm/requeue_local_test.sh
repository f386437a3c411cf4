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
