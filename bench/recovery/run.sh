#!/usr/bin/env bash
# Recovery after a worker failure, side by side in one run (4 workers on this machine's
# CPUs, Gloo): the example trainer on the C++ runtime (DDP) under fabric-run with
# --recovery in-place (a new process, or a waiting spare with --spares 1), the same under fabric-run's gang restart with a checkpoint reload,
# and torch 2.11's torchrun gang restart of the same model in Python DDP
# (bench/train/ddp_reference.py) with a checkpoint reload. Rank 2 SIGKILLs itself at the
# start of step CRASH; checkpoints every 10 steps. Measured from the step logs
# (bench/recovery/analyze.py): kill -> next completed step, kill -> the failed step
# completed on every rank, steps redone. Writes bench/recovery/RESULTS.md.
#   bench/recovery/run.sh [steps] [crash_step]
set -euo pipefail
cd "$(dirname "$0")/../.."
python=.venv/bin/python
torchrun=.venv/bin/torchrun
[[ -x $python && -x $torchrun ]] || { echo ".venv is missing: run \`bash tools/setup.sh\`" >&2; exit 1; }
steps=${1:-40}
crash=${2:-25}
bazel build -c opt //launcher:fabric-run //examples/train:train >/dev/null 2>&1 ||
  bazel build -c opt //launcher:fabric-run //examples/train:train
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
fr=$bin/launcher/fabric-run
train=$bin/examples/train/train
export OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=(--d-model 64 --layers 2 --heads 4 --seq-len 64 --batch-size 8 --steps "$steps")
crash_flags=(--crash-at-step "$crash" --crash-rank 2)

row() {  # name dir -> a table row
  local r; r=$($python bench/recovery/analyze.py "$2" "$crash")
  local f; f() { sed -n "s/.*$1=\([-0-9.]*\).*/\1/p" <<<"$r"; }
  echo "| $1 | $(f to_next_step_ms) | $(f to_failed_step_ms) | $(f steps_redone) | $(f step_ms) | $(f pids_changed) |"
}

d=$tmp/inplace; mkdir -p "$d"
"$fr" --devices 4 --recovery in-place --max-restarts 1 "$train" "${model[@]}" --log-every 1000 \
  "${crash_flags[@]}" --crash-with kill --step-log "$d" >"$d.out" 2>&1 || { cat "$d.out"; exit 1; }
in_place=$(row "fabric-run --recovery in-place (C++ DDP)" "$d")

d=$tmp/spare; mkdir -p "$d"
"$fr" --devices 4 --recovery in-place --spares 1 --max-restarts 1 "$train" "${model[@]}" \
  --log-every 1000 "${crash_flags[@]}" --crash-with kill --step-log "$d" >"$d.out" 2>&1 ||
  { cat "$d.out"; exit 1; }
spare=$(row "fabric-run --recovery in-place --spares 1 (C++ DDP)" "$d")

d=$tmp/gang; mkdir -p "$d/ckpt"
"$fr" --devices 4 --max-restarts 1 "$train" "${model[@]}" --log-every 1000 --ckpt-dir "$d/ckpt" \
  --ckpt-every 10 "${crash_flags[@]}" --crash-with kill --step-log "$d" >"$d.out" 2>&1 ||
  { cat "$d.out"; exit 1; }
gang=$(row "fabric-run gang restart + checkpoint reload (C++ DDP)" "$d")

d=$tmp/torchrun; mkdir -p "$d/ckpt"
"$torchrun" --standalone --nproc-per-node 4 --max-restarts 1 bench/train/ddp_reference.py \
  "${model[@]}" --ckpt-dir "$d/ckpt" --ckpt-every 10 "${crash_flags[@]}" --step-log "$d" \
  >"$d.out" 2>&1 || { cat "$d.out"; exit 1; }
torch_row=$(row "torchrun 2.11 gang restart + checkpoint reload (Python DDP)" "$d")

{
  echo "# Recovery after a worker failure"
  echo
  echo "\`bash bench/recovery/run.sh $steps $crash\` on $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ),"
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg). 4 workers, Gloo on loopback; 2 x 64 transformer,"
  echo "batch 8 x 64 per rank; rank 2 SIGKILLs itself at the start of step $crash; checkpoints every 10"
  echo "steps (the gang restarts resume from step $(( crash / 10 * 10 )))."
  echo
  echo "| run | kill -> next step done (ms) | kill -> step $crash done on every rank (ms) | steps redone | step (ms) | ranks with a new pid |"
  echo "|---|---|---|---|---|---|"
  echo "$in_place"
  echo "$spare"
  echo "$gang"
  echo "$torch_row"
  echo
  echo "kill -> next step: from the SIGKILL to the first step completed afterwards (in place: the"
  echo "failed step itself, on the survivors; gang: the first step redone after the checkpoint)."
  echo "torchrun's restart over Gloo needs a store prefix per attempt in the script"
  echo "(bench/train/ddp_reference.py): without it, torch 2.11's restarted workers read the failed"
  echo "attempt's Gloo addresses from the reused agent store and fail (connectFullMesh: connection"
  echo "refused), even for a 10-line script."
} >bench/recovery/RESULTS.md
cat bench/recovery/RESULTS.md
"$python" bench/assemble_results.py
bazel shutdown >/dev/null 2>&1 || true
