#!/usr/bin/env bash
# Runs parity_test.py with the repository's .venv/bin/python (FABRIC_VENV_PYTHON, from the
# BUILD), with the runfiles it needs in the environment.
set -euo pipefail
# runfile and PYTHON (tests/sh_test_lib.sh).
for lib in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tests/sh_test_lib.sh" \
  "$(dirname "$0")/../../tests/sh_test_lib.sh"; do
  [[ -e $lib ]] && break
done
source "$lib"
FABRIC_INSTALL=$(runfile tools/install)
FABRIC_DUMP_ENV=$(runfile tests/torchrun/dump_env.py)
export FABRIC_INSTALL FABRIC_DUMP_ENV
export PYTHONPATH="$(dirname "$(runfile tests/torchrun/env_compare.py)")${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" "$(runfile tests/torchrun/parity_test.py)" "$@"
