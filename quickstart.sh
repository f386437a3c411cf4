#!/usr/bin/env bash
# Quick start: set up this machine, build fabric-run and the example trainer, and run
# the trainer as a 2-node job of 4 workers on this one machine: two fabric-run agents
# (node ranks 0 and 1, 2 workers each) meeting at node 0's embedded rendezvous.
#
# Extra arguments go to the trainer (e.g. ./quickstart.sh --steps 50).
set -euo pipefail
cd "$(dirname "$0")"
bash tools/setup.sh
bazel build -c opt //launcher:fabric-run //examples/train:train
bazel shutdown >/dev/null 2>&1 || true
bin=bazel-bin
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ckpt=$(mktemp -d /tmp/fabric-quickstart.XXXXXX)
trap 'rm -rf "$ckpt"' EXIT
common=(--devices 2 --num-nodes 2 --main-address 127.0.0.1 --main-port "$port"
        --max-restarts 1 --run-id quickstart)
echo "fabric-run: 2 nodes x 2 workers, rendezvous on 127.0.0.1:$port"
"$bin/launcher/fabric-run" "${common[@]}" --node-rank 1 \
  "$bin/examples/train/train" --steps 120 --ckpt-dir "$ckpt" "$@" &
node1=$!
rc=0
"$bin/launcher/fabric-run" "${common[@]}" --node-rank 0 \
  "$bin/examples/train/train" --steps 120 --ckpt-dir "$ckpt" "$@" || rc=$?
node1_rc=0
wait "$node1" || node1_rc=$?
((rc != 0)) || rc=$node1_rc
exit "$rc"
