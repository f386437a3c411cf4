#!/usr/bin/env bash
# Runs lightning_test.py with the repository's .venv/bin/python (FABRIC_VENV_PYTHON, from
# the BUILD), with the runfiles it needs in the environment.
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
FABRIC_RUN=$(runfile launcher/fabric-run)
FABRIC_TRAIN_SCRIPT=$(runfile tests/lightning/fabric_train.py)
CPP_TRAIN=$(runfile examples/train/train)
export FABRIC_RUN FABRIC_TRAIN_SCRIPT CPP_TRAIN
exec "$PYTHON" "$(runfile tests/lightning/lightning_test.py)" "$@"
