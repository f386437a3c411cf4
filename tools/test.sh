#!/usr/bin/env bash
# Sets up the machine (tools/setup.sh) and runs every test. Used by the README and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
rc=0
bazel test //... "$@" || rc=$?
bazel shutdown >/dev/null 2>&1 || true
exit $rc
