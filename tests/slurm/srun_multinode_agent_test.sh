#!/usr/bin/env bash
# Real SLURM (2-node network-namespace cluster): one fabric-run agent per node on two
# nodes (srun -N2 --ntasks-per-node=1 fabric-run --devices 2). The agents get node rank
# SLURM_NODEID, 2 nodes, the rendezvous at the step's first host and the derived port
# (launcher/slurm_launch.cc); every worker must see a unique rank 0..3, world 4, and the
# Gloo all-reduce of an unmodified PyTorch script must sum to 6.
#
# Tagged "manual": it waits for the multi-node rendezvous in the agent (until then the
# agent refuses --num-nodes > 1). Enable it (drop "manual") once that is merged.
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
source "$LIB"

cluster_up 2 4
FR=$(cl_install "$FR_BIN" "$WH_BIN" "$PY_SCRIPT") || exit 1
WH=$CL_DIR/bin/worker_helper
PY=$CL_DIR/bin/allreduce.py
cd "$CL_DIR" || exit 1
run_srun() { cl_client timeout 180 srun --immediate=30 "$@"; }
env_of() { sed -n "s/^\\[node [0-9]* rank [0-9]*\\]: ENV $1 $2=//p" <<<"$3" | head -n1; }

echo "== srun -N2 --ntasks-per-node=1 fabric-run --devices 2 worker_helper env"
out=$(run_srun -N2 --ntasks-per-node=1 --export=ALL,FABRIC_LOG_LEVEL=info "$FR" --devices 2 "$WH" env 2>&1)
rc=$?
grep -v ' ENV ' <<<"$out"
expect_eq "exit status" 0 "$rc"
# No token given: the rendezvous (on n1, reachable from n2) authenticated with munge.
expect_eq "rendezvous hosted with munge auth" 1 \
  "$(grep -c 'hosting the rendezvous on n1:[0-9]* (run slurm-[0-9.]*, auth munge)' <<<"$out")"
expect_eq "ranks" "0 1 2 3" \
  "$(sed -n 's/^\[node [0-9]* rank [0-9]*\]: ENV \([0-9]*\) RANK=.*/\1/p' <<<"$out" | sort -n | xargs)"
for r in 0 1 2 3; do
  expect_eq "rank $r: WORLD_SIZE" 4 "$(env_of $r WORLD_SIZE "$out")"
  expect_eq "rank $r: GROUP_RANK (SLURM_NODEID)" $((r / 2)) "$(env_of $r GROUP_RANK "$out")"
  expect_eq "rank $r: LOCAL_RANK" $((r % 2)) "$(env_of $r LOCAL_RANK "$out")"
  expect_eq "rank $r: SLURMD_NODENAME" "n$((r / 2 + 1))" "$(env_of $r SLURMD_NODENAME "$out")"
done
expect_eq "one MASTER_ADDR:MASTER_PORT" 1 \
  "$(for r in 0 1 2 3; do echo "$(env_of $r MASTER_ADDR "$out"):$(env_of $r MASTER_PORT "$out")"; done | sort -u | wc -l)"

echo "== Gloo all-reduce through two agents"
out=$(run_srun -N2 --ntasks-per-node=1 "$FR" --devices 2 --python "$PYTHON" "$PY" 2>&1)
rc=$?
echo "$out" | tail -n 8
expect_eq "exit status" 0 "$rc"
expect_eq "ranks that got 6" 4 "$(grep -c '/4 local_rank [01] sum 6$' <<<"$out")"

echo "== rank 0 crashes on attempt 0 with --max-restarts 1: both nodes restart, the job recovers"
out=$(run_srun -N2 --ntasks-per-node=1 "$FR" --devices 2 --max-restarts 1 --grace-period 5 \
  "$WH" fail_until 1 3 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
expect_eq "attempt 1 on all 4 ranks" 4 "$(grep -c 'attempt 1 port' <<<"$out")"

if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
