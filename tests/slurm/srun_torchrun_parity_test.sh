#!/usr/bin/env bash
# Real SLURM (2-node network-namespace cluster), torchrun 2.11 as the oracle: the command
# line torchrun's docs give for SLURM,
#   srun -N2 --ntasks-per-node=1 torchrun --nnodes 2 --nproc-per-node 2 \
#        --rdzv-id $SLURM_JOB_ID --rdzv-backend c10d --rdzv-endpoint n1:29500 dump_env.py
# run once with .venv's torchrun and once with fabric-run installed as `torchrun`. Every
# worker's torchrun-defined variables must be equal or differ only as doc/cli.md lists
# (tests/torchrun/env_compare.py). The endpoint names n1: on n1 the agent hosts the
# rendezvous (torchrun's c10d rule), on n2 it joins. Needs root; see doc/slurm.md.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
LIB=$(find_runfile tests/slurm/cluster_lib.sh) || exit 1
FR_BIN=$(find_runfile launcher/fabric-run) || exit 1
DUMP_SRC=$(find_runfile tests/torchrun/dump_env.py) || exit 1
COMPARE_SRC=$(find_runfile tests/torchrun/env_compare.py) || exit 1
PYTHON=${FABRIC_VENV_PYTHON:-}
[[ -n $PYTHON && -x $PYTHON ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PYTHON' is not an interpreter: run tools/setup.sh"; exit 1; }
VENV_BIN=$(dirname "$PYTHON")
source "$LIB"

cluster_up 2 4
cl_install "$FR_BIN" "$DUMP_SRC" "$COMPARE_SRC" >/dev/null || exit 1
mkdir -p "$CL_DIR/ours" && ln -sf ../bin/fabric-run "$CL_DIR/ours/torchrun" || exit 1
cd "$CL_DIR" || exit 1

run_launcher() {  # LAUNCHER OUT: the SLURM command line above with this torchrun
  cl_client timeout 120 srun --immediate=30 -N2 --ntasks-per-node=1 \
    --export=ALL,PATH="$VENV_BIN:/usr/bin:/bin" \
    "$1" --nnodes 2 --nproc-per-node 2 --rdzv-id parity --rdzv-backend c10d \
    --rdzv-endpoint n1:29500 "$CL_DIR/bin/dump_env.py" >"$2" 2>"$2.err"
}
run_launcher "$VENV_BIN/torchrun" "$CL_DIR/torchrun.out"
expect_eq "torchrun under srun: exit" 0 "$?"
run_launcher "$CL_DIR/ours/torchrun" "$CL_DIR/ours.out"
rc=$?
expect_eq "fabric-run as torchrun under srun: exit" 0 "$rc"
((rc == 0)) || cat "$CL_DIR/ours.out.err"
expect_eq "ranks reported by fabric-run" 4 \
  "$(grep -o 'ENVDUMP [0-9]* RANK=' "$CL_DIR/ours.out" | sort -u | wc -l)"
# Compared on a cluster host, where n1 resolves.
cl_client "$PYTHON" "$CL_DIR/bin/env_compare.py" slurm "$CL_DIR/torchrun.out" "$CL_DIR/ours.out"
expect_eq "torchrun vs fabric-run worker variables under srun (undocumented differences)" 0 "$?"
((FAILURES == 0)) || exit 1
echo "PASS"
