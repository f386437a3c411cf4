#!/usr/bin/env bash
# Helpers shared by the real-SLURM tests: locating files under Bazel or in a checkout,
# and assertions that name what was expected.

# Path of a repository file ($1, e.g. "slurm/slurm-plan") under Bazel's runfiles, or
# in bazel-bin / the source tree when run by hand.
find_runfile() {
  local rel=$1 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local candidate
  for candidate in "${TEST_SRCDIR:-/nonexistent}/fabric_run/$rel" "$here/bazel-bin/$rel" \
    "$here/$rel"; do
    [[ -e $candidate ]] && { echo "$candidate"; return 0; }
  done
  echo "cannot find $rel (run under bazel test)" >&2
  return 1
}

FAILURES=0
fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}
pass() { echo "ok: $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [[ $2 == "$3" ]]; then pass "$1 = $2"; else fail "$1: expected '$2', got '$3'"; fi
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  if [[ $3 == *"$2"* ]]; then
    pass "$1 contains '$2'"
  else
    fail "$1: expected to contain '$2', got: $3"
  fi
}

# field NAME LINE: the value of NAME=value in a slurm-plan line.
field() {
  local name=$1 line=$2
  sed -n "s/.* $name=\\([^ ]*\\).*/\\1/p" <<<" $line"
}
