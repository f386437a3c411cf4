# Sourced by the sh_tests that drive fabric-run with the repository's .venv python
# (tests/torchrun/parity_test.sh, tests/torchrun/standalone_test.sh,
# tests/lightning/lightning_test.sh; their sh_test depends on //tests:sh_test_lib).
# Gives them:
#   runfile PATH  the path of a runfile (under Bazel $TEST_SRCDIR/<workspace>/PATH; run by
#                 hand, PATH relative to the repository root), or fails
#   PYTHON        $FABRIC_VENV_PYTHON (the BUILD sets it from @torch//:defs.bzl), checked to be
#                 an interpreter
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
