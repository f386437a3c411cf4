#!/usr/bin/env bash
# fabric-run installed as torchrun runs nanoGPT's README line,
#   torchrun --standalone --nproc_per_node=2 train.py
# as a real 2-worker job (gloo init_process_group and an all_reduce: both ranks, WORLD_SIZE
# 2, sum 3), and --standalone overrides multi-node flags (--nnodes 2, --rdzv-endpoint of
# another host) with one warning line and the same one-node job. Negative control: those
# flags without --standalone ask for a second node (the plan says 2 nodes). With
# FABRIC_PRELOAD set (standalone_preload_test) the workers are forked by a --preload zygote.
set -euo pipefail
# runfile and PYTHON (tests/sh_test_lib.sh).
for lib in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tests/sh_test_lib.sh" \
  "$(dirname "$0")/../../tests/sh_test_lib.sh"; do
  [[ -e $lib ]] && break
done
source "$lib"
TMP=$(mktemp -d "${TEST_TMPDIR:-/tmp}/standalone.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$(runfile tools/install)" --prefix "$TMP/prefix" --torchrun >/dev/null
TORCHRUN=$TMP/prefix/bin/torchrun
mkdir "$TMP/proj"
cp "$(runfile tests/torchrun/allreduce.py)" "$TMP/proj/train.py"
cd "$TMP/proj"
# The venv's python3 first in PATH, as an activated environment (torchrun's python -u).
export PATH="$(dirname "$PYTHON"):$PATH"
unset MASTER_ADDR MASTER_PORT RANK WORLD_SIZE LOCAL_RANK PET_NNODES PET_RDZV_ENDPOINT

fail() { echo "FAIL: $*"; exit 1; }
check_run() {  # $1: label, $2: output file
  for r in 0 1; do
    grep -q "rank $r world 2 sum 3" "$2" || fail "$1: no 'rank $r world 2 sum 3' in: $(cat "$2")"
  done
}

timeout 120 "$TORCHRUN" --standalone --nproc_per_node=2 train.py >"$TMP/plain.out" 2>&1 ||
  fail "nanoGPT line exited $?: $(cat "$TMP/plain.out")"
check_run "nanoGPT line" "$TMP/plain.out"
if grep -q "warning" "$TMP/plain.out"; then fail "a warning with nothing overridden: $(cat "$TMP/plain.out")"; fi
# //tests/torchrun:standalone_preload_test: the workers are forked by a --preload zygote.
if [[ -n ${FABRIC_PRELOAD:-} ]] && grep -q "spawning Python workers normally" "$TMP/plain.out"; then
  fail "--preload $FABRIC_PRELOAD fell back: $(cat "$TMP/plain.out")"
fi
echo "PASS: torchrun --standalone --nproc_per_node=2 train.py"

timeout 120 "$TORCHRUN" --standalone --nnodes 2 --rdzv-endpoint node0.invalid:29400 \
  --rdzv-backend c10d --rdzv-id job7 --nproc_per_node=2 train.py >"$TMP/over.out" 2>&1 ||
  fail "--standalone with multi-node flags exited $?: $(cat "$TMP/over.out")"
check_run "overridden" "$TMP/over.out"
[[ $(grep -c "warning: --standalone overrides" "$TMP/over.out") == 1 ]] ||
  fail "want one override warning: $(cat "$TMP/over.out")"
grep "warning: --standalone overrides" "$TMP/over.out" | grep -q -- "--nnodes 2" ||
  fail "warning does not name --nnodes 2"
grep "warning: --standalone overrides" "$TMP/over.out" | grep -q -- "--rdzv-endpoint node0.invalid:29400" ||
  fail "warning does not name --rdzv-endpoint"
grep -q "spawning Python workers normally" "$TMP/over.out" && fail "--preload fell back: $(cat "$TMP/over.out")"
echo "PASS: --standalone overrides --nnodes 2 --rdzv-endpoint ... with one warning"

# Negative control: without --standalone the same flags plan two nodes.
"$TORCHRUN" --dry-run --nnodes 2 --rdzv-endpoint node0.invalid:29400 --rdzv-backend c10d \
  --rdzv-id job7 --nproc_per_node=2 train.py >"$TMP/control.out" 2>&1 || true
grep -F "num-nodes = 2 " "$TMP/control.out" >/dev/null ||
  fail "control: the plan without --standalone is not 2 nodes: $(cat "$TMP/control.out")"
timeout 60 "$TORCHRUN" --dry-run --standalone --nnodes 2 --nproc_per_node=2 train.py >"$TMP/dry.out" 2>&1
grep -F "num-nodes = 1 " "$TMP/dry.out" >/dev/null || fail "dry run with --standalone is not one node: $(cat "$TMP/dry.out")"
echo "PASS: negative control (no --standalone: 2 nodes)"
