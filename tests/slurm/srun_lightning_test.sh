#!/usr/bin/env bash
# Real SLURM (2-node network-namespace cluster): an unmodified Lightning Fabric script
# (tests/lightning/fabric_train.py, Fabric() without arguments) under fabric-run in both
# srun layouts. Lightning's own environment detection picks TorchElasticEnvironment (its
# first choice, from fabric-run's torchrun variables), and its SLURMEnvironment, which
# SLURM-aware code reads too, must agree: world size, global, local and node rank equal
# the ones fabric-run gave (RANK, LOCAL_RANK, GROUP_RANK, WORLD_SIZE). Both layouts train
# the same 4-rank DDP job and must end with identical parameters.
#   task per device: srun -N2 --ntasks-per-node=2 fabric-run ... (fabric-run execs the script)
#   task per node:   srun -N2 --ntasks-per-node=1 fabric-run --devices 2 ... (the agent
#                    spawns the workers and rewrites their SLURM_* task variables,
#                    launcher/attempt_plan.h OverlaySlurmTask)
# Needs root; see doc/slurm.md.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
LIB=$(find_runfile tests/slurm/cluster_lib.sh) || exit 1
FR_BIN=$(find_runfile launcher/fabric-run) || exit 1
SCRIPT_SRC=$(find_runfile tests/lightning/fabric_train.py) || exit 1
PYTHON=${FABRIC_VENV_PYTHON:-}  # .venv/bin/python (torch 2.11, lightning), set by the BUILD
[[ -n $PYTHON && -x $PYTHON ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PYTHON' is not an interpreter: run tools/setup.sh"; exit 1; }
source "$LIB"

cluster_up 2 4
FR=$(cl_install "$FR_BIN" "$SCRIPT_SRC") || exit 1
SCRIPT=$CL_DIR/bin/fabric_train.py
cd "$CL_DIR" || exit 1
run_srun() {
  cl_client timeout 240 srun --immediate=30 --export=ALL,OMP_NUM_THREADS=1 "$@"
}
FLAGS=(--accelerator cpu --strategy ddp --python "$PYTHON")
ARGS=(--steps 6 --accumulate 2 --clip 1.0)

# check_lines LAYOUT OUTPUT: every rank's LIGHTNING line agrees with fabric-run's variables.
check_lines() {
  local layout=$1 out=$2 lines
  lines=$(grep -o 'LIGHTNING env=.*' <<<"$out")
  expect_eq "$layout: ranks reporting" 4 "$(grep -c . <<<"$lines")"
  expect_eq "$layout: Lightning's cluster environment" "TorchElasticEnvironment" \
    "$(sed -n 's/.*env=\([A-Za-z]*\) .*/\1/p' <<<"$lines" | sort -u | xargs)"
  expect_eq "$layout: global ranks" "0 1 2 3" \
    "$(sed -n 's/.* rank=\([0-9]*\) .*/\1/p' <<<"$lines" | sort -n | xargs)"
  local line r l n w ours slurm
  while read -r line; do
    w=$(sed -n 's/.* world=\([0-9]*\) .*/\1/p' <<<"$line")
    r=$(sed -n 's/.* rank=\([0-9]*\) .*/\1/p' <<<"$line")
    l=$(sed -n 's/.* local=\([0-9]*\) .*/\1/p' <<<"$line")
    n=$(sed -n 's/.* node=\([0-9]*\) .*/\1/p' <<<"$line")
    ours=$(sed -n 's/.* ours=\([^ ]*\) .*/\1/p' <<<"$line")
    slurm=$(sed -n 's/.* slurm=\([^ ]*\).*/\1/p' <<<"$line")
    expect_eq "$layout: rank $r: Lightning's rank/local/node/world vs fabric-run's" \
      "$ours" "$r/$l/$n/$w"
    expect_eq "$layout: rank $r: Lightning's SLURMEnvironment vs fabric-run's" "$ours" "$slurm"
    expect_eq "$layout: rank $r: node" "$((r / 2))" "$n"
  done <<<"$lines"
}

echo "== task per device: srun -N2 --ntasks-per-node=2 fabric-run ... fabric_train.py"
out=$(run_srun -N2 --ntasks-per-node=2 "$FR" "${FLAGS[@]}" "$SCRIPT" --out "$CL_DIR/per_device" \
  "${ARGS[@]}" 2>&1)
rc=$?
grep -E 'LIGHTNING|final loss|Error|error' <<<"$out"
expect_eq "task per device: exit status" 0 "$rc"
check_lines "task per device" "$out"

echo "== task per node: srun -N2 --ntasks-per-node=1 fabric-run --devices 2 ... fabric_train.py"
out=$(run_srun -N2 --ntasks-per-node=1 "$FR" --devices 2 "${FLAGS[@]}" "$SCRIPT" \
  --out "$CL_DIR/per_node" "${ARGS[@]}" 2>&1)
rc=$?
grep -E 'LIGHTNING|final loss|Error|error' <<<"$out"
expect_eq "task per node: exit status" 0 "$rc"
check_lines "task per node" "$out"

echo "== both layouts end with identical parameters"
same=$("$PYTHON" - "$CL_DIR/per_device" "$CL_DIR/per_node" <<'PY'
import sys, torch
a, b = sys.argv[1], sys.argv[2]
ok = True
for r in range(4):
    pa, pb = torch.load(f"{a}/rank{r}.pt"), torch.load(f"{b}/rank{r}.pt")
    ok &= sorted(pa) == sorted(pb) and all(torch.equal(pa[k], pb[k]) for k in pa)
print("identical" if ok else "different")
PY
)
expect_eq "parameters" identical "$same"

if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
