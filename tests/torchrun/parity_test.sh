#!/usr/bin/env bash
# Runs parity_test.py with the repository's .venv/bin/python (FABRIC_VENV_PYTHON, from the
# BUILD), with the runfiles it needs in the environment.
set -euo pipefail
runfile() {
  local p
  for p in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/$1" "$(dirname "$0")/../../$1"; do
    [[ -e $p ]] && { echo "$p"; return 0; }
  done
  echo "runfile $1 not found" >&2
  return 1
}
PYTHON=${FABRIC_VENV_PYTHON:-}
[[ -n $PYTHON && -x $PYTHON ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PYTHON' is not an interpreter: run tools/setup.sh"; exit 1; }
FABRIC_INSTALL=$(runfile tools/install)
FABRIC_DUMP_ENV=$(runfile tests/torchrun/dump_env.py)
export FABRIC_INSTALL FABRIC_DUMP_ENV
export PYTHONPATH="$(dirname "$(runfile tests/torchrun/env_compare.py)")${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" "$(runfile tests/torchrun/parity_test.py)" "$@"
