#!/usr/bin/env bash
# Checks that the benchmark tools measure what doc/bench.md says (behaviour, never speed):
# timed_run's records, spawn_baseline's environment and exit status, both workers' records.
set -euo pipefail
H=bench/harness
W=bench/workers
# The Python worker runs on the repository's .venv/bin/python, as in the benchmarks: under
# Bazel FABRIC_VENV_PYTHON (from the BUILD: @torch's VENV_PYTHON, the workspace's .venv);
# run by hand, the .venv of the repository this script's real file is in.
PYTHON=${FABRIC_VENV_PYTHON:-$(dirname "$(readlink -f "$0")")/../../.venv/bin/python}
[[ -x $PYTHON ]] || { echo "FAIL: no Python interpreter at $PYTHON: run tools/setup.sh" >&2; exit 1; }
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/harness.XXXXXX")
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Three native workers through the baseline: 3 marker lines, 3 start records, exit 0,
#    and every record carries the t0 that timed_run exported.
export BENCH_RECORDS=$tmp/native
out=$($H/timed_run -- $H/spawn_baseline 3 $W/bench_worker print)
t0=$(awk '$1=="t0"{print $2}' <<<"$out")
[[ -n $t0 ]] || fail "no t0 record: $out"
[[ $(grep -c '^line ' <<<"$out") == 3 ]] || fail "want 3 line records: $out"
grep -q '^exit [0-9]* 0$' <<<"$out" || fail "want exit 0: $out"
[[ $(grep -c "^start " "$BENCH_RECORDS") == 3 ]] || fail "want 3 starts: $(cat "$BENCH_RECORDS")"
[[ $(awk -v t0="$t0" '$6==t0 && $5>=t0' "$BENCH_RECORDS" | wc -l) == 3 ]] ||
  fail "records must carry t0=$t0 and start after it: $(cat "$BENCH_RECORDS")"
[[ $(awk '{print $2}' "$BENCH_RECORDS" | sort | tr '\n' ' ') == "0 1 2 " ]] ||
  fail "want ranks 0 1 2: $(cat "$BENCH_RECORDS")"

# 1b. --fork-wait spawns the same way (fork + wait for exec) and reports exec errors.
export BENCH_RECORDS=$tmp/forkwait
out=$($H/timed_run -- $H/spawn_baseline --fork-wait 2 $W/bench_worker print)
[[ $(grep -c '^line ' <<<"$out") == 2 ]] || fail "fork-wait: want 2 line records: $out"
[[ $(grep -c "^start " "$BENCH_RECORDS") == 2 ]] || fail "fork-wait: want 2 starts"
if $H/spawn_baseline --fork-wait 1 /nonexistent/worker 2>/dev/null; then
  fail "fork-wait must report an exec failure"
fi

# 2. The same with python -S workers.
export BENCH_RECORDS=$tmp/python
out=$($H/timed_run -- $H/spawn_baseline 2 "$PYTHON" -S $W/bench_worker.py print)
[[ $(grep -c '^line ' <<<"$out") == 2 ]] || fail "python: want 2 line records: $out"
[[ $(grep -c "^start " "$BENCH_RECORDS") == 2 ]] || fail "python: want 2 starts"

# 3. fail-once on attempt 0: a start, then a fail record, exit status 1 passed up.
for w in "$W/bench_worker" "$PYTHON -S $W/bench_worker.py"; do
  export BENCH_RECORDS=$tmp/fail.$RANDOM
  out=$($H/timed_run -- $H/spawn_baseline 1 $w fail-once 1)
  grep -q '^exit [0-9]* 1$' <<<"$out" || fail "$w fail-once: want exit 1: $out"
  [[ $(awk '{print $1}' "$BENCH_RECORDS" | tr '\n' ' ') == "start fail " ]] ||
    fail "$w fail-once: want start then fail: $(cat "$BENCH_RECORDS")"
  # Attempt 1 succeeds.
  TORCHELASTIC_RESTART_COUNT=1 $w fail-once 1 >/dev/null || fail "$w: attempt 1 must exit 0"
done

# 4. noop records nothing and exits 0; a failing copy makes the baseline exit 1.
export BENCH_RECORDS=$tmp/noop
$H/spawn_baseline 4 $W/bench_worker noop || fail "noop must exit 0"
[[ ! -e $BENCH_RECORDS ]] || fail "noop must not record"
if $H/spawn_baseline 2 /bin/false; then fail "spawn_baseline must report a failing copy"; fi

# 5. A command that outlives --timeout is killed and reported as a timeout.
out=$($H/timed_run --timeout 0.3 -- $W/bench_worker sleep 30)
grep -q '^timeout ' <<<"$out" || fail "want a timeout record: $out"

# 6. Bad usage is refused with status 2.
rc=0; $H/timed_run >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "timed_run without a command: want 2, got $rc"
rc=0; $W/bench_worker bogus >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "bench_worker bogus: want 2, got $rc"
echo PASS
