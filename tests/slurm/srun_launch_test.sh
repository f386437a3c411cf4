#!/usr/bin/env bash
# Real SLURM (network-namespace cluster of 2 nodes with 4 fake GPUs each): fabric-run
# itself under srun and sbatch. One task per device (fabric-run execs the program:
# ranks 0..3 unique and consistent, no agent left in between), one task per node on one
# node (the agent spawns --devices workers with SLURM's values), the Gloo all-reduce of
# an unmodified PyTorch script in both layouts, a mismatch failing within seconds, a
# taken main port, a crash recovered by --max-restarts, and the example sbatch scripts.
# Needs root; see doc/slurm.md.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
LIB=$(find_runfile tests/slurm/cluster_lib.sh) || exit 1
FR_BIN=$(find_runfile launcher/fabric-run) || exit 1
WH_BIN=$(find_runfile tests/worker_helper) || exit 1
PY_SCRIPT=$(find_runfile tests/python/allreduce.py) || exit 1
PYTHON=${FABRIC_VENV_PYTHON:-}  # .venv/bin/python (torch 2.11), set by the BUILD
[[ -n $PYTHON && -x $PYTHON ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PYTHON' is not an interpreter: run tools/setup.sh"; exit 1; }
EX_TPD=$(find_runfile examples/slurm/task_per_device.sbatch) || exit 1
EX_TPN=$(find_runfile examples/slurm/task_per_node.sbatch) || exit 1
source "$LIB"

CL_GPUS_PER_NODE=4 cluster_up 2 4
FR=$(cl_install "$FR_BIN" "$WH_BIN" "$PY_SCRIPT" "$EX_TPD" "$EX_TPN") || exit 1
WH=$CL_DIR/bin/worker_helper
PY=$CL_DIR/bin/allreduce.py
cd "$CL_DIR" || exit 1

run_srun() { cl_client timeout 120 srun --immediate=30 "$@"; }
# env_of RANK VAR OUTPUT: VAR's value in the "ENV <rank> VAR=value" lines of OUTPUT.
env_of() { sed -n "s/^\\(\\[rank [0-9]*\\]: \\)\\{0,1\\}ENV $1 $2=//p" <<<"$3" | head -n1; }

echo "== task per device: srun -N2 --ntasks-per-node=2 fabric-run worker_helper env"
out=$(run_srun -N2 --ntasks-per-node=2 "$FR" sh -c \
  'echo "PARENT $RANK $(cat /proc/$PPID/comm)"; exec "$0" env' "$WH" 2>&1)
rc=$?
expect_eq "exit status" 0 "$rc"
expect_eq "ranks" "0 1 2 3" "$(sed -n 's/^ENV \([0-9]*\) RANK=.*/\1/p' <<<"$out" | sort -n | xargs)"
for r in 0 1 2 3; do
  expect_eq "rank $r: RANK = SLURM_PROCID" "$r" "$(env_of $r SLURM_PROCID "$out")"
  expect_eq "rank $r: WORLD_SIZE" 4 "$(env_of $r WORLD_SIZE "$out")"
  expect_eq "rank $r: LOCAL_RANK" $((r % 2)) "$(env_of $r LOCAL_RANK "$out")"
  expect_eq "rank $r: GROUP_RANK" $((r / 2)) "$(env_of $r GROUP_RANK "$out")"
  expect_eq "rank $r: MASTER_ADDR" n1 "$(env_of $r MASTER_ADDR "$out")"
done
expect_eq "one MASTER_PORT" 1 "$(sed -n 's/^ENV [0-9]* MASTER_PORT=//p' <<<"$out" | sort -u | wc -l)"
# The program replaced fabric-run: its parent is SLURM's step daemon, not an agent.
expect_eq "parent of every task's program" "slurmstepd" \
  "$(sed -n 's/^PARENT [0-9]* //p' <<<"$out" | sort -u | xargs)"
expect_eq "nothing else printed" 0 "$(grep -v -c -e '^ENV ' -e '^PARENT ' <<<"$out")"

echo "== task per node on one node: srun -N1 --ntasks-per-node=1 fabric-run --devices 2"
out=$(run_srun -N1 --ntasks-per-node=1 "$FR" --devices 2 "$WH" env 2>&1)
rc=$?
expect_eq "exit status" 0 "$rc"
expect_eq "ranks" "0 1" "$(sed -n 's/^\[rank \([0-9]*\)\]: ENV [0-9]* RANK=.*/\1/p' <<<"$out" | sort -n | xargs)"
for r in 0 1; do
  expect_eq "rank $r: WORLD_SIZE" 2 "$(env_of $r WORLD_SIZE "$out")"
  expect_eq "rank $r: GROUP_RANK (SLURM_NODEID)" 0 "$(env_of $r GROUP_RANK "$out")"
  expect_contains "rank $r: run id from the job and step" "slurm-" "$(env_of $r TORCHELASTIC_RUN_ID "$out")"
done

echo "== Gloo all-reduce (unmodified PyTorch script), one task per device on 2 nodes"
out=$(run_srun -N2 --ntasks-per-node=2 "$FR" --python "$PYTHON" "$PY" 2>&1)
rc=$?
echo "$out" | tail -n 8
expect_eq "exit status" 0 "$rc"
expect_eq "sums (0+1+2+3)" "rank 0/4 sum 6|rank 1/4 sum 6|rank 2/4 sum 6|rank 3/4 sum 6" \
  "$(grep -o 'rank [0-9]/4' <<<"$out" | sort | while read -r l; do echo "$l sum 6"; done | paste -sd'|')"
expect_eq "ranks that got 6" 4 "$(grep -c 'sum 6' <<<"$out")"

echo "== Gloo all-reduce, one task per node (agent) on 1 node with 2 workers"
out=$(run_srun -N1 --ntasks-per-node=1 "$FR" --devices 2 --python "$PYTHON" "$PY" 2>&1)
rc=$?
echo "$out" | tail -n 4
expect_eq "exit status" 0 "$rc"
expect_eq "ranks that got 1 (0+1)" 2 "$(grep -c '/2 local_rank [01] sum 1$' <<<"$out")"

echo "== mismatch: --devices 4 in a 2-task-per-node step exits within seconds, nothing spawned"
t0=$SECONDS
out=$(HELPER_DIR=$CL_DIR/mm run_srun -N2 --ntasks-per-node=2 "$FR" --devices 4 "$WH" env 2>&1)
rc=$?
echo "$out"
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "srun succeeded despite the mismatch"
((SECONDS - t0 < 60)) && pass "failed in $((SECONDS - t0))s" || fail "took $((SECONDS - t0))s"
expect_eq "tasks that printed the message" 4 \
  "$(grep -c -- 'fabric-run: --devices 4 but this srun step runs 2 tasks on node' <<<"$out")"
expect_contains "advice" 'set `#SBATCH --ntasks-per-node=4` (one task per device) or `--ntasks-per-node=1`' "$out"
expect_eq "no worker ran" 0 "$(grep -c '^ENV ' <<<"$out")"
out=$(run_srun -N2 --ntasks-per-node=2 "$FR" --num-nodes 3 "$WH" env 2>&1)
expect_contains "--num-nodes mismatch" '--num-nodes 3 but this srun step runs on 2 nodes' "$out"

echo "== the main port taken on n1: rank 0 fails with the advice"
nsenter --net="/run/netns/${CL_ID}-n1" /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 24569)); s.listen(); print("listening", flush=True); time.sleep(120)' \
  >"$CL_DIR/listener.out" 2>&1 &
listener=$!
deadline=$((SECONDS + 30))
until grep -q listening "$CL_DIR/listener.out" 2>/dev/null || ((SECONDS > deadline)); do sleep 0.1; done
out=$(cl_client env MASTER_PORT=24569 timeout 120 srun --immediate=30 -N2 --ntasks-per-node=2 \
  --kill-on-bad-exit=1 "$FR" "$WH" env 2>&1)
rc=$?
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "a taken port was not noticed"
expect_contains "port message" 'fabric-run: main port 24569 (MASTER_PORT) is not free on n1' "$out"

echo "== a worker crash under srun with --max-restarts 1: the job recovers"
out=$(run_srun -N1 --ntasks-per-node=1 "$FR" --devices 2 --max-restarts 1 --grace-period 5 \
  "$WH" fail_until 1 3 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
expect_contains "attempt 0 ran" "[rank 0]: attempt 0" "$out"
expect_contains "attempt 1 ran" "[rank 0]: attempt 1" "$out"
expect_contains "failure report" "root cause: rank 0" "$out"
out=$(run_srun -N1 --ntasks-per-node=1 "$FR" --devices 2 --max-restarts 0 --grace-period 5 \
  "$WH" fail_until 1 3 2>&1)
expect_eq "negative control: without restarts the step fails" 1 "$([[ $? -ne 0 ]] && echo 1 || echo 0)"

echo "== sbatch --wait of the example scripts (pointed at the test's binaries)"
out_tpd="$CL_DIR/ex-tpd.out"
cl_client env FABRIC_RUN="$FR" TRAIN="$WH env" timeout 180 sbatch --wait \
  --cpus-per-task=1 --time=5 --chdir="$CL_DIR" --output="$out_tpd" "$CL_DIR/bin/task_per_device.sbatch"
rc=$?
expect_eq "task_per_device.sbatch exit status" 0 "$rc"
out=$(cat "$out_tpd" 2>&1)
expect_eq "task per device: ranks" "0 1 2 3 4 5 6 7" \
  "$(sed -n 's/^ENV \([0-9]*\) RANK=.*/\1/p' <<<"$out" | sort -n | xargs)"
expect_eq "task per device: CUDA_VISIBLE_DEVICES as SLURM set it" "0,1,2,3" \
  "$(sed -n 's/^ENV [0-9]* CUDA_VISIBLE_DEVICES=//p' <<<"$out" | sort -u | xargs)"
out_tpn="$CL_DIR/ex-tpn.out"
# One node: the multi-node agent needs the rendezvous (srun_multinode_agent_test).
cl_client env FABRIC_RUN="$FR" TRAIN="$WH env" timeout 180 sbatch --wait \
  --nodes=1 --cpus-per-task=1 --time=5 --chdir="$CL_DIR" --output="$out_tpn" \
  "$CL_DIR/bin/task_per_node.sbatch"
rc=$?
expect_eq "task_per_node.sbatch (one node) exit status" 0 "$rc"
out=$(cat "$out_tpn" 2>&1)
expect_eq "task per node: ranks" "0 1 2 3" \
  "$(sed -n 's/^\[rank \([0-9]*\)\]: ENV [0-9]* RANK=.*/\1/p' <<<"$out" | sort -n | xargs)"
expect_eq "task per node: per-rank logs" 4 "$(ls "$CL_DIR"/logs/*/*/attempt_0/rank_*.stdout.log 2>/dev/null | wc -l)"

if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
