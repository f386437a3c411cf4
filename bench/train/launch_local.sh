#!/usr/bin/env bash
# Starts N copies of a command on this machine with the torchrun worker environment
# (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, a free MASTER_PORT), the way
# fabric-run or torchrun would, and fails if any rank fails. For benchmarks and demos
# that must not depend on the launcher being built.
#   bench/train/launch_local.sh 2 bazel-bin/examples/train/train --steps 100
set -uo pipefail
n="$1"; shift
python="$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python"  # the repository's .venv
[[ -x $python ]] || { echo ".venv/bin/python is missing: run \`bash tools/setup.sh\`" >&2; exit 1; }
port=$("$python" -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
for ((r = 0; r < n; r++)); do
  RANK=$r LOCAL_RANK=$r WORLD_SIZE=$n LOCAL_WORLD_SIZE=$n GROUP_RANK=0 \
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$port OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
