#!/usr/bin/env bash
# Checks that a --config=tsan build sees absl::Mutex (no report for correct locking) and
# still reports a real race (the negative control). Outside TSan it only checks that the
# canary says so. Usage: tsan_canary_test.sh PATH_TO_tsan_canary
set -uo pipefail
canary=$1
if [[ "$("$canary" mutex 2>&1)" == "tsan: off" ]]; then
  echo "SKIP: not a ThreadSanitizer build (run with --config=tsan)"
  exit 0
fi
fail=0
out=$(TSAN_OPTIONS=halt_on_error=1:exitcode=66 "$canary" mutex 2>&1); rc=$?
if ((rc != 0)) || grep -q 'ThreadSanitizer' <<<"$out"; then
  echo "FAIL: correct absl::Mutex hand-offs were reported (rc $rc):"; echo "$out" | head -40
  fail=1
else
  echo "ok: absl::Mutex hand-offs are seen by TSan (no report)"
fi
out=$(TSAN_OPTIONS=halt_on_error=1:exitcode=66 "$canary" race 2>&1); rc=$?
if ((rc == 66)) && grep -q 'WARNING: ThreadSanitizer: data race' <<<"$out"; then
  echo "ok: the unsynchronized counter is reported (exit 66)"
else
  echo "FAIL: the deliberate race was not reported (rc $rc):"; echo "$out" | head -20
  fail=1
fi
exit $fail
