# Sourced by the sh_tests that drive fabric-run with the repository's .venv python
# (tests/torchrun/parity_test.sh, tests/torchrun/standalone_test.sh,
# tests/lightning/lightning_test.sh; their sh_test depends on //tests:sh_test_lib).
# Gives them:
#   runfile PATH  the path of a runfile (under Bazel $TEST_SRCDIR/<workspace>/PATH; run by
#                 hand, PATH relative to the repository root), or fails
#   pass / fail   print a PASS: / FAIL: line; fail counts into FAILURES
#   finish        prints the verdict and exits 1 when any check failed
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

# other_torch_env DIR: a fresh virtual environment at DIR (python3 -m venv) holding torch
# and the rest of .venv's packages as hard links (no download, no copy of data), so torch
# is imported from DIR, not from the repository's .venv: a user's own environment, or the
# GPU machine's. What the new environment has already (pip, setuptools) stays its own.
other_torch_env() {
  local dir=$1 site src
  /usr/bin/python3 -m venv "$dir" || return 1
  site=$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') || return 1
  src=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') || return 1
  local entry
  for entry in "$src"/*; do
    [[ -e $site/${entry##*/} ]] && continue  # the new environment's own (pip, setuptools)
    case ${entry##*/} in pip-*|setuptools-*|fabric_run*|fabric_heartbeat*) continue ;; esac
    cp -al "$entry" "$site/" || return 1
  done
  # The commands pip gave .venv with torch (torchrun) and lightning (fabric), for this
  # environment's Python, as pip would have written them.
  local cmd
  for cmd in torchrun fabric; do
    [[ -f $(dirname "$PYTHON")/$cmd ]] || continue
    sed "1s|^#!.*|#!$dir/bin/python|" "$(dirname "$PYTHON")/$cmd" >"$dir/bin/$cmd" && chmod 755 "$dir/bin/$cmd"
  done
  "$dir/bin/python" -c 'import torch' || return 1
}

FAILURES=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
finish() {
  ((FAILURES == 0)) && echo "PASS: all" || echo "FAILED: $FAILURES"
  exit $((FAILURES > 0))
}
