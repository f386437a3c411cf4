#!/usr/bin/env bash
# Shows that tools/check_deps.sh fails on a real violation: plants two temporary packages,
# runtime/deps_selftest_planted (a cc_library on //launcher:agent) and
# slurm/deps_selftest_planted (on //rendezvous:client), runs check_deps.sh and expects
# exit 1 with both planted targets named. The packages are removed on any exit.
set -uo pipefail
cd "$(dirname "$0")/.."
planted=(runtime/deps_selftest_planted slurm/deps_selftest_planted)
for d in "${planted[@]}"; do
  [[ ! -e $d ]] || { echo "check_deps self-test: $d exists already" >&2; exit 1; }
done
trap 'rm -rf "${planted[@]}"' EXIT
plant() {  # plant DIR DEP
  mkdir -p "$1"
  cat >"$1/BUILD.bazel" <<BUILD
# Planted by tools/check_deps_selftest.sh; removed when it exits.
cc_library(
    name = "planted",
    deps = ["$2"],
)
BUILD
}
plant runtime/deps_selftest_planted //launcher:agent
plant slurm/deps_selftest_planted //rendezvous:client
out=$(bash tools/check_deps.sh 2>&1); rc=$?
fail=0
if ((rc != 1)); then
  echo "check_deps self-test: check_deps.sh exited $rc on planted violations, 1 expected"; fail=1
fi
for want in "//runtime/deps_selftest_planted:planted" "//slurm/deps_selftest_planted:planted"; do
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "check_deps self-test: check_deps.sh did not name $want"; fail=1
  fi
done
if ((fail)); then
  echo "check_deps.sh said:"; echo "$out" | sed 's/^/  /'
  exit 1
fi
echo "check_deps self-test: planted runtime -> launcher and slurm -> rendezvous edges were caught"
