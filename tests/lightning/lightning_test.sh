#!/usr/bin/env bash
# Runs lightning_test.py with the repository's .venv/bin/python (FABRIC_VENV_PYTHON, from
# the BUILD), with the runfiles it needs in the environment.
set -euo pipefail
# runfile and PYTHON (tests/sh_test_lib.sh).
for lib in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tests/sh_test_lib.sh" \
  "$(dirname "$0")/../../tests/sh_test_lib.sh"; do
  [[ -e $lib ]] && break
done
source "$lib"
FABRIC_RUN=$(runfile launcher/fabric-run)
FABRIC_TRAIN_SCRIPT=$(runfile tests/lightning/fabric_train.py)
CPP_TRAIN=$(runfile examples/train/train)
export FABRIC_RUN FABRIC_TRAIN_SCRIPT CPP_TRAIN
exec "$PYTHON" "$(runfile tests/lightning/lightning_test.py)" "$@"
