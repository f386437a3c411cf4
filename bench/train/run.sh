#!/usr/bin/env bash
# Step time of the example trainer (C++ fabric::runtime DDP, LibTorch from .venv's torch
# wheel) against the same model in Python PyTorch DDP (torch 2.11 from the repository's
# .venv, Gloo), same per-rank batch, same threads (OMP_NUM_THREADS=1 per worker), same
# shapes; scaling over 1, 2, 4 workers; FSDP's training-state bytes per rank against DDP's;
# peak memory per rank measured by the kernel (VmHWM) and step time for C++ DDP/FSDP and
# Python DDP/FSDP2 on an 8 x 1024 model, with a plot (memory.svg beside the table).
# Writes a markdown table to bench/train/RESULTS.md (and stdout), then reassembles
# bench/RESULTS.md.
#   bench/train/run.sh [steps]
# BIN_DIR=DIR: the trainer already built with -c opt at DIR/examples/train/train (no Bazel);
# OUT=FILE: write the table there instead (bench/RESULTS.md is then left alone).
set -euo pipefail
BIN_DIR=${BIN_DIR:+$(realpath "$BIN_DIR")}
OUT=${OUT:+$(realpath -m "$OUT")}
cd "$(dirname "$0")/../.."
python=.venv/bin/python
[[ -x $python ]] || { echo ".venv/bin/python is missing: run \`bash tools/setup.sh\`" >&2; exit 1; }
steps="${1:-40}"
default_out=$PWD/bench/train/RESULTS.md
out=${OUT:-$default_out}
if [[ -n ${BIN_DIR:-} ]]; then
  train=$BIN_DIR/examples/train/train
else
  bazel build -c opt //examples/train:train >/dev/null 2>&1 || bazel build -c opt //examples/train:train
  train="$(bazel info -c opt bazel-bin 2>/dev/null)/examples/train/train"
fi
[[ -x $train ]] || { echo "missing $train: bazel build -c opt //examples/train:train" >&2; exit 1; }
export OMP_NUM_THREADS=1
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | tail -1; }

run_cpp() {  # world strategy [trainer flags...] -> "ms bytes loss peak_rss_mb"
  local w=$1 s=$2; shift 2
  local log; log=$(bench/train/launch_local.sh "$w" "$train" --steps "$steps" --strategy "$s" \
    --log-every 1000 "$@" 2>&1 | grep '^done:')
  echo "$(echo "$log" | field mean_step_ms) $(echo "$log" | field state_bytes_per_rank) $(echo "$log" | field final_loss) $(echo "$log" | field peak_rss_mb)"
}
run_py() {  # world [reference flags...] -> "ms loss peak_rss_mb"
  local w=$1; shift
  local log; log=$(bench/train/launch_local.sh "$w" "$python" bench/train/ddp_reference.py \
    --steps "$steps" "$@" 2>&1 | grep '^done:')
  echo "$(echo "$log" | field mean_step_ms) $(echo "$log" | field final_loss) $(echo "$log" | field peak_rss_mb)"
}

{
  echo "## Example trainer: C++ fabric::runtime vs Python PyTorch DDP"
  echo
  echo "Model: causal transformer LM, vocab 256, d_model 64, 2 layers, 4 heads, ff 128, seq 64;"
  echo "per-rank batch 8; AdamW; grad clip 1.0; Gloo on CPU; OMP_NUM_THREADS=1 per worker;"
  echo "$steps steps, mean of steps 6..$steps measured on rank 0. Machine: $(nproc --all) cores"
  echo "($(uptime | sed 's/.*load average/load average/')) at $(date -u +%FT%TZ)."
  echo "C++ built with -c opt; Python DDP on torch $("$python" -c 'import torch; print(torch.__version__)') (the repository's .venv)."
  echo "Workers started by bench/train/launch_local.sh (same env as torchrun)."
  echo "Earlier figures against torch 1.13: bench/history/torch-1.13/train.md."
  echo
  echo "| workers | C++ DDP ms/step | Python DDP ms/step | C++/Python | C++ scaling (samples/s) | Python scaling (samples/s) |"
  echo "|---|---|---|---|---|---|"
} | tee "$out"
declare -A ddp_bytes
for w in 1 2 4; do
  strategy=ddp; [ "$w" = 1 ] && strategy=single
  read -r cms cbytes _ <<<"$(run_cpp "$w" "$strategy")"
  read -r pms _ <<<"$(run_py "$w")"
  ddp_bytes[$w]=$cbytes
  ratio=$(awk -v a="$cms" -v b="$pms" 'BEGIN{printf "%.2fx", a/b}')
  cs=$(awk -v m="$cms" -v w="$w" 'BEGIN{printf "%.0f", 8*w*1000/m}')
  ps=$(awk -v m="$pms" -v w="$w" 'BEGIN{printf "%.0f", 8*w*1000/m}')
  echo "| $w | $cms | $pms | $ratio | $cs | $ps |" | tee -a "$out"
done
{
  echo
  echo "FSDP vs DDP: training-state bytes per rank after the last backward, before the optimizer step (parameters +"
  echo "gradients + AdamW state), from the runtime's own accounting (Fabric::Memory)."
  echo
  echo "| workers | DDP bytes/rank | FSDP bytes/rank | FSDP/DDP | FSDP ms/step |"
  echo "|---|---|---|---|---|"
} | tee -a "$out"
for w in 2 4; do
  read -r fms fbytes _ <<<"$(run_cpp "$w" fsdp)"
  ratio=$(awk -v a="$fbytes" -v b="${ddp_bytes[$w]}" 'BEGIN{printf "%.3f", a/b}')
  echo "| $w | ${ddp_bytes[$w]} | $fbytes | $ratio | $fms |" | tee -a "$out"
done

# Peak memory measured by the kernel (VmHWM of rank 0; Python: ru_maxrss), on a model whose
# parameters, gradients and optimizer state dominate: the issue's 8 layers of width 1024.
big=(--d-model 1024 --layers 8 --heads 8 --seq-len 16 --batch-size 2 --warmup-steps 1)
mem_steps=${MEM_STEPS:-4}
{
  echo
  echo "### Peak memory per rank (kernel's VmHWM) and step time: d_model 1024, 8 layers, 8 heads"
  echo
  echo "seq 16, per-rank batch 2, AdamW, $mem_steps steps (the first not timed); C++ FSDP with one unit per"
  echo "TransformerEncoderLayer (\`--fsdp-units TransformerEncoderLayer\`), each gathered just for its own"
  echo "forward and backward (the trainer runs the layers through \`RunUnit\`), Python FSDP2 with \`fully_shard\`"
  echo "on each layer and the root. Peak MB includes each runtime's own baseline (LibTorch's"
  echo "libraries; Python's interpreter and torch import), so compare FSDP/DDP within a column"
  echo "pair. Targets: C++ FSDP <= 0.6x C++ DDP at 4 workers; C++ FSDP step <= 1.1x FSDP2."
  echo
  echo "| workers | C++ DDP MB | C++ FSDP MB | C++ FSDP/DDP | Python DDP MB | Python FSDP2 MB | FSDP2/DDP | C++ DDP ms | C++ FSDP ms | Python DDP ms | Python FSDP2 ms | C++ FSDP / FSDP2 step |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee -a "$out"
csv=$PWD/bench/out/train_memory.csv
mkdir -p "$(dirname "$csv")"
echo "workers,cpp_ddp,cpp_fsdp,py_ddp,py_fsdp2" > "$csv"
declare -A fsdp_mb fsdp_ms
for w in 2 4; do
  read -r cdms _ _ cdmb <<<"$(steps=$mem_steps run_cpp "$w" ddp "${big[@]}")"
  read -r cfms _ _ cfmb <<<"$(steps=$mem_steps run_cpp "$w" fsdp "${big[@]}" --fsdp-units TransformerEncoderLayer)"
  read -r pdms _ pdmb <<<"$(steps=$mem_steps run_py "$w" "${big[@]}" --strategy ddp)"
  read -r pfms _ pfmb <<<"$(steps=$mem_steps run_py "$w" "${big[@]}" --strategy fsdp2)"
  cr=$(awk -v a="$cfmb" -v b="$cdmb" 'BEGIN{printf "%.2fx", a/b}')
  pr=$(awk -v a="$pfmb" -v b="$pdmb" 'BEGIN{printf "%.2fx", a/b}')
  sr=$(awk -v a="$cfms" -v b="$pfms" 'BEGIN{printf "%.2fx", a/b}')
  echo "| $w | $cdmb | $cfmb | $cr | $pdmb | $pfmb | $pr | $cdms | $cfms | $pdms | $pfms | $sr |" | tee -a "$out"
  echo "$w,$cdmb,$cfmb,$pdmb,$pfmb" >> "$csv"
  fsdp_mb[$w]=$cfmb
  fsdp_ms[$w]=$cfms
done
"$python" bench/train/plot_memory.py "$csv" "$(dirname "$out")/memory.svg"
echo | tee -a "$out"
echo "![peak memory per rank](memory.svg)" | tee -a "$out"
# Activation checkpointing (--activation-checkpointing TransformerEncoderLayer): the same
# FSDP run, each layer's activations recomputed in backward.
{
  echo
  echo "C++ FSDP with activation checkpointing of every TransformerEncoderLayer, same model and"
  echo "steps (at seq 16 x batch 2 the activations are small next to the parameters: this shows"
  echo "the recomputation's cost more than its saving)."
  echo
  echo "| workers | C++ FSDP MB | + checkpointing MB | C++ FSDP ms | + checkpointing ms |"
  echo "|---|---|---|---|---|"
} | tee -a "$out"
for w in 2 4; do
  read -r ams _ _ amb <<<"$(steps=$mem_steps run_cpp "$w" fsdp "${big[@]}" --fsdp-units TransformerEncoderLayer \
    --activation-checkpointing TransformerEncoderLayer)"
  echo "| $w | ${fsdp_mb[$w]} | $amb | ${fsdp_ms[$w]} | $ams |" | tee -a "$out"
done
if [[ $out == "$default_out" ]]; then "$python" bench/assemble_results.py; fi
