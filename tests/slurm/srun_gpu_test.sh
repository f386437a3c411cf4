#!/usr/bin/env bash
# Real SLURM with (fake) GPUs as GRES: SLURM itself sets CUDA_VISIBLE_DEVICES,
# SLURM_GPUS_ON_NODE and SLURM_STEP_GPUS for --gpus-per-node / --gpus-per-task, and the
# plan (//slurm:slurm-plan --accelerator cuda) must respect them: devices default to the
# GPUs SLURM gave, and too few GPUs fail every task with the #SBATCH line to change.
# The device files are character nodes nobody opens (no GPU is needed). Needs root.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
LIB=$(find_runfile tests/slurm/cluster_lib.sh) || exit 1
PLAN_BIN=$(find_runfile slurm/slurm-plan) || exit 1
source "$LIB"

CL_GPUS_PER_NODE=4 cluster_up 2 4
PLAN=$(cl_install "$PLAN_BIN") || exit 1
cd "$CL_DIR" || exit 1
run_srun() { cl_client timeout 60 srun --immediate=20 "$@"; }
values() { while read -r l; do field "$1" "$l"; done | sort | uniq | xargs; }

echo "== --gpus-per-node=4, one task per node, no --devices: 4 workers per agent"
out=$(run_srun -N2 --ntasks-per-node=1 --gpus-per-node=4 "$PLAN" --accelerator cuda 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
lines=$(grep '^context=' <<<"$out")
expect_eq "agents" 2 "$(grep -c . <<<"$lines")"
expect_eq "layout" "task-per-node" "$(values layout <<<"$lines")"
expect_eq "workers per node" "4" "$(values local_world_size <<<"$lines")"
expect_eq "world" "8" "$(values world_size <<<"$lines")"

echo "== --gpus-per-task=1, two tasks per node: one worker per task"
out=$(run_srun -N2 --ntasks-per-node=2 --gpus-per-task=1 "$PLAN" --accelerator cuda 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
lines=$(grep '^context=' <<<"$out")
expect_eq "layout" "task-per-device" "$(values layout <<<"$lines")"
expect_eq "ranks" "0 1 2 3" "$(values RANK <<<"$lines")"

echo "== --devices 4 but --gpus-per-node=2"
out=$(run_srun -N2 --ntasks-per-node=1 --gpus-per-node=2 "$PLAN" --accelerator cuda --devices 4 2>&1)
rc=$?
echo "$out"
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "too few GPUs not noticed"
expect_contains "message" '--devices 4 but SLURM gave node 0 (n1) 2 GPUs (CUDA_VISIBLE_DEVICES=0,1): set `#SBATCH --gpus-per-node=4`, or pass --devices 2' "$out"
expect_eq "agents that failed" 2 "$(grep -c 'but SLURM gave node' <<<"$out")"

echo "== four tasks sharing two GPUs"
out=$(run_srun -N1 --ntasks-per-node=4 --gpus-per-node=2 "$PLAN" --accelerator cuda 2>&1)
rc=$?
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "shared GPUs not noticed"
expect_contains "message" '4 tasks on node 0 (n1) but SLURM gave them 2 GPUs (CUDA_VISIBLE_DEVICES=0,1): set `#SBATCH --gpus-per-node=4`' "$out"

echo "== cuda without any GPU requested"
out=$(run_srun -N1 -n1 "$PLAN" --accelerator cuda 2>&1)
rc=$?
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "no GPU not noticed"
expect_contains "message" 'SLURM set none of CUDA_VISIBLE_DEVICES / SLURM_GPUS_ON_NODE / SLURM_STEP_GPUS' "$out"

cluster_down
if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
