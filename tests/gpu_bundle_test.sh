#!/usr/bin/env bash
# The GPU check's folder (//tools/gpu:bundle, tools/gpu_bundle.sh) on a simulation of the GPU
# machine: a fresh copy of the folder, a Python environment of its own with torch 2.11 (not
# the repository's .venv), no .venv on any path, no LD_LIBRARY_PATH, run from another
# directory. Without a GPU the CPU rows pass and every CUDA row says SKIPPED: no GPU; the
# lines are also in ./gpu_results.txt. The folder is under 60 MiB and names no path of
# this checkout. Negative control: a python3 without torch is one line and exit 2.
set -uo pipefail
for lib in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tests/sh_test_lib.sh" \
  "$(dirname "$0")/../tests/sh_test_lib.sh"; do
  [[ -e $lib ]] && break
done
source "$lib"  # runfile, PYTHON, other_torch_env, pass/fail/finish
TAR=$(runfile tools/gpu/gpu_bundle.tar) || exit 1
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "SKIP: this machine has a GPU (the simulation is of its absence)"
  exit 0
fi
T=$(mktemp -d /tmp/fabric-gpu-bundle.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bundle" "$T/work"
tar -C "$T/bundle" -xf "$TAR" || exit 1
size_kib=$(du -sk "$T/bundle" | cut -f1)
((size_kib < 60 * 1024)) && pass "folder is $((size_kib / 1024)) MiB" || fail "folder is $size_kib KiB"
repo=$(cd "$(dirname "$PYTHON")/../.." && pwd)
if hits=$(grep -rlF "$repo" "$T/bundle"); then fail "names $repo: $hits"; else pass "names no path of $repo"; fi
other_torch_env "$T/env" || { echo "FAIL: could not make the environment"; exit 1; }

cd "$T/work" || exit 1
out=$(env -i HOME="$T" PATH="$T/env/bin:/usr/bin:/bin" bash "$T/bundle/gpu_check.sh" 2>&1)
rc=$?
echo "$out"
[[ $rc == 0 ]] && pass "exit 0" || fail "exit $rc"
[[ -f gpu_results.txt ]] && diff <(grep -E '^(OK|FAIL|SKIPPED) ' <<<"$out") \
  <(grep -E '^(OK|FAIL|SKIPPED) ' gpu_results.txt) >/dev/null &&
  pass "gpu_results.txt holds the same lines" || fail "gpu_results.txt differs or is missing"
cpu=$(grep -cE '^OK +cpu: ' <<<"$out")
((cpu >= 4)) && pass "$cpu CPU rows OK" || fail "only $cpu CPU rows OK"
cuda=$(grep -cE '^SKIPPED +cuda: .*no GPU' <<<"$out")
others=$(grep -E '^(OK|FAIL|SKIPPED) +cuda: ' <<<"$out" | grep -vc 'no GPU')
((cuda >= 10 && others == 0)) && pass "$cuda CUDA rows SKIPPED: no GPU" ||
  fail "CUDA rows: $cuda skipped for no GPU, $others otherwise"
grep -q "torch/lib" <<<"$out" && grep -q "LibTorch from $T/env/" <<<"$out" &&
  pass "LibTorch from the environment's torch" || fail "LibTorch not from $T/env"
# Negative control: no torch.
out=$(env -i HOME="$T" PATH=/usr/bin:/bin bash "$T/bundle/gpu_check.sh" 2>&1)
rc=$?
[[ $rc == 2 && $(grep -c . <<<"$out") == 1 && $out == "gpu_check: "*"cannot import torch"* ]] &&
  pass "no torch: $out" || fail "no torch (exit $rc): $out"
finish
