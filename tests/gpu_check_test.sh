#!/usr/bin/env bash
# tools/gpu_check.sh on a machine without a GPU: one clear line, exit 2, within seconds,
# nothing written. (Skipped where a GPU exists: the script then runs its checks.)
set -uo pipefail
PYTHON=${FABRIC_VENV_PYTHON:-}
[[ -n $PYTHON && -x $PYTHON ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PYTHON': run tools/setup.sh"; exit 1; }
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "SKIP: this machine has a GPU"
  exit 0
fi
script=""
for p in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tools/gpu_check.sh" "$(dirname "$0")/../tools/gpu_check.sh"; do
  [[ -f $p ]] && { script=$p; break; }
done
[[ -n $script ]] || { echo "FAIL: tools/gpu_check.sh not found"; exit 1; }
start=$SECONDS
err=$(PYTHON=$PYTHON bash "$script" 2>&1 >/dev/null)
rc=$?
fail=0
[[ $rc == 2 ]] || { echo "FAIL: exit $rc, want 2"; fail=1; }
[[ $(grep -c . <<<"$err") == 1 ]] || { echo "FAIL: want one line, got: $err"; fail=1; }
[[ $err == "gpu_check: no GPU: "* ]] || { echo "FAIL: unclear message: $err"; fail=1; }
((SECONDS - start < 30)) || { echo "FAIL: took $((SECONDS - start)) s"; fail=1; }
echo "gpu_check said: $err"
((fail == 0)) && echo PASS
exit $fail
