#!/usr/bin/env bash
# The GPU check, self-contained: this folder (made by `bash tools/gpu_bundle.sh DIR` where
# Bazel is) runs on a machine with no Bazel, no .venv of the repository and no network:
#
#   bash DIR/gpu_check.sh
#
# It uses whatever `python3 -c 'import torch'` finds (or PYTHON=...; torch 2.11). The
# binaries in bin/ carry no RUNPATH: fabric-run finds LibTorch through that Python
# (launcher/torch_lookup.h), the few run without fabric-run get its torch/lib here.
# One line per row, `OK`, `FAIL` or `SKIPPED`, the row, the figure or the reason, on
# stdout and appended to ./gpu_results.txt as each row ends (so a row that runs out of
# time loses nothing before it); logs in a temporary folder; with $OUT set (the device
# tool's machine) both are copied there after every row. Without a GPU the CPU rows run
# and the CUDA rows say SKIPPED: no GPU. Every row has its own timeout and the whole check
# stays within GPU_CHECK_BUDGET seconds (default 450: under 8 minutes). Exit 0 when no row
# failed, 1 otherwise, 2 when no usable torch is found.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$HERE/bin
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-450}
RESULTS=$PWD/gpu_results.txt
die() { echo "gpu_check: $*" >&2; exit 2; }
command -v "$PY" >/dev/null || die "no $PY on PATH (set PYTHON=/path/to/python with torch 2.11)"
probe=$("$PY" - <<'PY' 2>&1
import os, sys
try:
    import torch
except Exception as e:
    print("ERR %s cannot import torch: %s" % (sys.executable, e)); sys.exit(0)
gpu = torch.cuda.is_available()
print("OK", torch.__version__, os.path.join(os.path.dirname(torch.__file__), "lib"),
      int(gpu), torch.cuda.get_device_name(0) if gpu else "-", sys.executable, sep="\t")
PY
)
[[ $probe == OK* ]] || die "${probe#ERR }"
IFS=$'\t' read -r _ TORCH_VERSION TORCH_LIB HAS_GPU GPU_NAME PYEXE <<<"$probe"
[[ $TORCH_VERSION == 2.11.* ]] || die "$PYEXE has torch $TORCH_VERSION; the binaries need torch 2.11"
for b in fabric-run train worker nccl_check; do
  [[ -x $BIN/$b ]] || die "missing $BIN/$b: make the folder with 'bash tools/gpu_bundle.sh DIR'"
done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
unset RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT LT_ACCELERATOR LT_STRATEGY LT_PRECISION
LOGS=$(mktemp -d /tmp/gpu_check.XXXXXX)
FR=$BIN/fabric-run
START=$SECONDS
FAILED=0
: >"$RESULTS"
{
  echo "# gpu_check $(cat "$HERE/BUILD_INFO" 2>/dev/null) on $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "# torch $TORCH_VERSION ($PYEXE), GPU: $GPU_NAME, $(nproc) CPUs"
} | tee -a "$RESULTS"

row() {  # row OK|FAIL|SKIPPED NAME DETAIL
  [[ $1 == FAIL ]] && FAILED=$((FAILED + 1))
  printf '%-7s %-44s %s\n' "$1" "$2" "$3" | tee -a "$RESULTS"
  if [[ -n ${OUT:-} ]]; then
    cp "$RESULTS" "$OUT/" 2>/dev/null
    tar -C "$LOGS" -czf "$OUT/gpu_check_logs.tar.gz" --exclude='*.pt' --exclude='*.ckpt' . 2>/dev/null
  fi
}
# run LOG SECONDS CMD...: output in $LOGS/LOG.log, status in RC (124: its timeout, or the
# budget's; 125: not run, the budget is spent).
run() {
  local log=$1 secs=$2 left=$((BUDGET - (SECONDS - START)))
  shift 2
  ((secs > left - 5)) && secs=$((left - 5))
  if ((secs < 10)); then RC=125; : >"$LOGS/$log.log"; return; fi
  timeout --kill-after=5 "$secs" "$@" >"$LOGS/$log.log" 2>&1
  RC=$?
}
why() {  # why LOG: the reason the last run failed, one line
  case $RC in
    124) echo "timed out (see $LOGS/$1.log)" ;;
    125) echo "not run: the ${BUDGET}s budget is spent" ;;
    *) echo "exit $RC: $(grep -m3 -iE 'error|fail|root cause|Traceback' "$LOGS/$1.log" | tr '\n' ' ' | cut -c1-300)" ;;
  esac
}
field() { sed -n "s/.*[ ^]$1=\\([^ ]*\\).*/\\1/p" <<<" $2" | head -n1; }
losses() { sed -n 's/.*step [0-9]* loss \([0-9.]*\).*/\1/p' "$LOGS/$1.log" | xargs; }
falls() { local l=($1); ((${#l[@]} >= 2)) && awk -v a="${l[0]}" -v b="${l[-1]}" 'BEGIN{exit !(b < a)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "?" }'; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
SMALL=(--d-model 32 --seq-len 16 --batch-size 4 --layers 1 --lr 0.01)

# ---- CPU rows ------------------------------------------------------------------------------
run cpu_train 120 "$FR" --devices 2 --grace-period 5 "$BIN/train" --steps 40 --log-every 10 \
  "${SMALL[@]}" --ckpt-dir "$LOGS/cpu_train.ckpt"
l=$(losses cpu_train)
if [[ $RC == 0 ]] && falls "$l"; then
  row OK "cpu: trainer, 2 workers (gloo), fabric-run" "loss ${l%% *} -> ${l##* }; LibTorch from $TORCH_LIB"
else
  row FAIL "cpu: trainer, 2 workers (gloo), fabric-run" "$(why cpu_train)"
fi

ck=$LOGS/cpu_ckpt
run cpu_ckpt_a 120 "$FR" --devices 2 "$BIN/train" --steps 20 --ckpt-every 10 --log-every 10 \
  "${SMALL[@]}" --ckpt-dir "$ck"
a_rc=$RC
run cpu_ckpt_b 120 "$FR" --devices 2 "$BIN/train" --steps 30 --ckpt-every 10 --log-every 10 \
  "${SMALL[@]}" --ckpt-dir "$ck"
if [[ $a_rc == 0 && $RC == 0 ]] && grep -q "resumed from .* at step 20" "$LOGS/cpu_ckpt_b.log"; then
  row OK "cpu: checkpoint save and load" "$(grep -m1 -o 'resumed from .*' "$LOGS/cpu_ckpt_b.log" | sed "s|$LOGS/||")"
else
  row FAIL "cpu: checkpoint save and load" "first exit $a_rc; $(why cpu_ckpt_b)"
fi

# The same Python DDP script under fabric-run and torchrun (world 2, gloo): launcher wall
# time and step time.
ddp_rows() {  # ddp_rows DEVICE BACKEND NPROC LABEL
  local dev=$1 be=$2 n=$3 label=$4 t0 fr_ms tr_ms fr_line tr_line port
  local args=("$HERE/py/ddp_step.py" --backend "$be" --device "$dev" --steps 30)
  t0=$(date +%s%N)
  run "ddp_${dev}_fr" 120 "$FR" --devices "$n" --python "$PYEXE" --accelerator "$dev" "${args[@]}"
  fr_ms=$(ms_since "$t0")
  fr_line=$(grep -m1 -o 'DDP backend=.*' "$LOGS/ddp_${dev}_fr.log")
  if [[ $RC == 0 && -n $fr_line ]] && awk -v a="$(field loss_first "$fr_line")" -v b="$(field loss_last "$fr_line")" 'BEGIN{exit !(b < a)}'; then
    row OK "$label DDP ($be) script, fabric-run" "world $(field world "$fr_line"), step $(field mean_step_ms "$fr_line") ms, job ${fr_ms} ms"
  else
    row FAIL "$label DDP ($be) script, fabric-run" "$(why "ddp_${dev}_fr")"
    row SKIPPED "$label the same under torchrun (ratio)" "no fabric-run figure to compare"
    return
  fi
  port=$("$PYEXE" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  t0=$(date +%s%N)
  run "ddp_${dev}_torchrun" 180 "$PYEXE" -m torch.distributed.run --nproc-per-node "$n" \
    --master-port "$port" "${args[@]}"
  tr_ms=$(ms_since "$t0")
  tr_line=$(grep -m1 -o 'DDP backend=.*' "$LOGS/ddp_${dev}_torchrun.log")
  if [[ $RC == 0 && -n $tr_line ]]; then
    row OK "$label the same under torchrun (ratio)" "step $(field mean_step_ms "$tr_line") ms (fabric-run/torchrun $(ratio "$(field mean_step_ms "$fr_line")" "$(field mean_step_ms "$tr_line")")x); job ${tr_ms} ms (torchrun/fabric-run $(ratio "$tr_ms" "$fr_ms")x)"
  else
    row FAIL "$label the same under torchrun (ratio)" "$(why "ddp_${dev}_torchrun")"
  fi
}
ddp_rows cpu gloo 2 "cpu:"

# ---- CUDA rows -----------------------------------------------------------------------------
CUDA_ROWS=("cuda: placement (cuda:LOCAL_RANK)" "cuda: NCCL process group init"
  "cuda: DDP step, 32-true" "cuda: FSDP per-layer step, 32-true" "cuda: DDP bf16-mixed"
  "cuda: FSDP bf16-mixed" "cuda: DDP 16-mixed with the scaler" "cuda: FSDP 16-mixed with the scaler"
  "cuda: FSDP CPU offload, NCCL" "cuda: FSDP CPU offload, 2 ranks over Gloo"
  "cuda: checkpoint save and load" "cuda: in-place recovery asked on NCCL"
  "cuda: DDP (nccl) script, fabric-run" "cuda: the same under torchrun (ratio)"
  "cuda: step time, C++ runtime vs Lightning" "cuda: 4 ranks sharing cuda:0 over Gloo, DDP"
  "cuda: Lightning script, fabric-run vs fabric run")
if [[ $HAS_GPU != 1 ]]; then
  for r in "${CUDA_ROWS[@]}"; do row SKIPPED "$r" "no GPU (torch.cuda.is_available() is False)"; done
  echo "gpu_check: $FAILED row(s) failed; results in $RESULTS, logs in $LOGS"
  exit $((FAILED > 0))
fi
WITH_TORCH=(env "LD_LIBRARY_PATH=$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")

run placement 120 "$FR" --accelerator cuda --devices 1 "$BIN/worker" precision p=32-true \
  strategy=ddp accelerator=cuda steps=3
line=$(grep -m1 -o 'PRECISION .*' "$LOGS/placement.log")
[[ $RC == 0 && $(field device "$line") == cuda:0 ]] &&
  row OK "${CUDA_ROWS[0]}" "$(field device "$line") $GPU_NAME" || row FAIL "${CUDA_ROWS[0]}" "$(why placement) $line"

run nccl 120 "${WITH_TORCH[@]}" "$BIN/nccl_check"
bad=$(grep '^CHECK ' "$LOGS/nccl.log" | grep -vc ' ok')
init_ms=$(sed -n 's/^FIGURE nccl_init_ms //p' "$LOGS/nccl.log")
if [[ $RC == 0 && $bad == 0 && -n $init_ms ]]; then
  row OK "${CUDA_ROWS[1]}" "world 1: $(grep -c '^CHECK ' "$LOGS/nccl.log") collectives ok, init ${init_ms} ms"
else
  row FAIL "${CUDA_ROWS[1]}" "$(why nccl) $(grep '^CHECK ' "$LOGS/nccl.log" | grep -v ' ok' | head -2 | tr '\n' ' ')"
fi

run precision_ref 120 "${WITH_TORCH[@]}" "$BIN/worker" precision p=32-true accelerator=cpu steps=10
ref_first=$(field first "$(grep -m1 '^PRECISION' "$LOGS/precision_ref.log")")
i=2
for spec in "ddp 32-true 1e-3" "fsdp 32-true 1e-3" "ddp bf16-mixed 5e-2" "fsdp bf16-mixed 5e-2" \
            "ddp 16-mixed 2e-2" "fsdp 16-mixed 2e-2"; do
  read -r strategy p tol <<<"$spec"
  name=${CUDA_ROWS[$i]}; i=$((i + 1))
  log="prec_${strategy}_$p"
  run "$log" 120 "${WITH_TORCH[@]}" "$BIN/worker" precision "p=$p" "strategy=$strategy" \
    accelerator=cuda steps=10
  line=$(grep -m1 '^PRECISION' "$LOGS/$log.log")
  first=$(field first "$line"); last=$(field last "$line")
  if [[ $RC == 0 && -n $first && -n $ref_first ]] &&
     awk -v r="$ref_first" -v f="$first" -v l="$last" -v t="$tol" \
       'BEGIN{d = (f - r) / r; if (d < 0) d = -d; exit !(d <= t && l < f)}'; then
    row OK "$name" "first loss $first vs CPU fp32 $ref_first (tol $tol), last $last, compute=$(field compute "$line")"
  else
    row FAIL "$name" "$(why "$log") first=$first ref=$ref_first last=$last"
  fi
done

for spec in "offload_nccl 1 backend=nccl" "offload_gloo 2 backend=gloo"; do
  read -r log n backend <<<"$spec"
  name=${CUDA_ROWS[$i]}; i=$((i + 1))
  run "$log" 150 "$FR" --devices "$n" --grace-period 5 "$BIN/worker" equiv strategy=fsdp_cpu_offload \
    optim=adam steps=4 accum=2 units=Linear jit=1 accelerator=cuda "$backend"
  diffs=$(grep -o 'MAXDIFF rank=[0-9]* [^ ]*' "$LOGS/$log.log" | awk '{print $3}' | xargs)
  place=$(grep -m1 -o 'PLACEMENT .*' "$LOGS/$log.log")
  if [[ $RC == 0 && $(wc -w <<<"$diffs") == "$n" && $place == *"params=cpu grads=cpu"* ]]; then
    row OK "$name" "$place; max abs difference to one process: $diffs"
  else
    row FAIL "$name" "$(why "$log") $place"
  fi
done

ck=$LOGS/cuda_ckpt
run cuda_ckpt_a 150 "$FR" --accelerator cuda --devices 1 "$BIN/train" --steps 20 --ckpt-every 10 \
  --log-every 10 --ckpt-dir "$ck"
a_rc=$RC
run cuda_ckpt_b 150 "$FR" --accelerator cuda --devices 1 "$BIN/train" --steps 30 --ckpt-every 10 \
  --log-every 10 --ckpt-dir "$ck"
name=${CUDA_ROWS[$i]}; i=$((i + 1))
if [[ $a_rc == 0 && $RC == 0 ]] && grep -q "resumed from .* at step 20" "$LOGS/cuda_ckpt_b.log"; then
  row OK "$name" "saved from cuda:0 at step 20, loaded and went on to 30"
else
  row FAIL "$name" "first exit $a_rc; $(why cuda_ckpt_b)"
fi

# In-place recovery asked for on NCCL, world size 1 (one GPU): the failed rank 0 is never
# replaced in place, so the gang restarts and resumes from its checkpoint.
name=${CUDA_ROWS[$i]}; i=$((i + 1))
rk=$LOGS/recovery
mkdir -p "$rk"
"$FR" --accelerator cuda --devices 1 --recovery in-place --max-restarts 1 --grace-period 5 \
  "$BIN/train" --steps 400 --ckpt-every 5 --log-every 50 --ckpt-dir "$rk" >"$LOGS/recovery.log" 2>&1 &
agent=$!
for _ in $(seq 1 600); do [[ -e $rk/last.ckpt ]] && break; sleep 0.1; done
victim=$(pgrep -P "$agent" | head -n1)
[[ -n $victim ]] && kill -KILL "$victim"
timeout 150 tail --pid="$agent" -f /dev/null
if kill -0 "$agent" 2>/dev/null; then kill -KILL "$agent"; RC=124; else wait "$agent"; RC=$?; fi
if [[ -n $victim && $RC == 0 ]] && grep -q "resumed from" "$LOGS/recovery.log"; then
  row OK "$name" "rank 0 (pid $victim) SIGKILLed: gang restart, resumed from the checkpoint, exit 0"
else
  row FAIL "$name" "victim '${victim}', $(why recovery)"
fi

ddp_rows cuda nccl 1 "cuda:"
i=$((i + 2))

SHAPE=(--d-model 256 --layers 4 --heads 8 --seq-len 128 --batch-size 32)
name=${CUDA_ROWS[$i]}
run step_cpp 150 "$FR" --accelerator cuda --devices 1 "$BIN/train" --precision bf16-mixed \
  --steps 60 --warmup-steps 15 --log-every 1000 "${SHAPE[@]}"
cpp_ms=$(sed -n 's/.*mean_step_ms=\([0-9.]*\).*/\1/p' "$LOGS/step_cpp.log")
if "$PYEXE" -c 'import lightning' 2>/dev/null; then
  run step_lightning 150 "$PYEXE" "$HERE/py/lightning_lm.py" --precision bf16-mixed \
    --steps 60 --warmup-steps 15 "${SHAPE[@]}"
  lt_ms=$(sed -n 's/.*mean_step_ms=\([0-9.]*\).*/\1/p' "$LOGS/step_lightning.log")
  if [[ -n $cpp_ms && -n $lt_ms ]]; then
    row OK "$name" "$cpp_ms ms vs $lt_ms ms (ratio $(ratio "$cpp_ms" "$lt_ms")x), bf16-mixed, d_model 256, 4 layers"
  else
    row FAIL "$name" "C++ '$cpp_ms' Lightning '$lt_ms': $(why step_lightning)"
  fi
else
  row SKIPPED "$name" "lightning is not importable by $PYEXE (C++ step: ${cpp_ms:-?} ms)"
fi
i=$((i + 1))

name=${CUDA_ROWS[$i]}; i=$((i + 1))
run gloo_4 150 "$FR" --devices 4 --grace-period 5 "$BIN/worker" equiv strategy=ddp optim=adam \
  steps=4 accelerator=cuda backend=gloo
diffs=$(grep -o 'MAXDIFF rank=[0-9]* [^ ]*' "$LOGS/gloo_4.log" | awk '{print $3}' | xargs)
if [[ $RC == 0 && $(wc -w <<<"$diffs") == 4 ]]; then
  row OK "$name" "max abs difference to one process, per rank: $diffs"
else
  row FAIL "$name" "$(why gloo_4)"
fi

name=${CUDA_ROWS[$i]}
if "$PYEXE" -c 'import lightning' 2>/dev/null; then
  LT_ARGS=(--steps 12 --accumulate 2 --clip 1.0)
  run lightning_fr 150 "$FR" --accelerator cuda --devices 1 --python "$PYEXE" \
    "$HERE/py/fabric_train.py" --out "$LOGS/lt_fr" "${LT_ARGS[@]}"
  fr_rc=$RC
  port=$("$PYEXE" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run lightning_cli 150 "$PYEXE" -m lightning.fabric.cli run --accelerator cuda --devices 1 \
    --main-port "$port" "$HERE/py/fabric_train.py" --out "$LOGS/lt_cli" "${LT_ARGS[@]}"
  if [[ $fr_rc == 0 && $RC == 0 ]]; then
    cmp=$("$PYEXE" - "$LOGS/lt_fr/rank0.pt" "$LOGS/lt_cli/rank0.pt" <<'PY'
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
d = max((a[k] - b[k]).abs().max().item() for k in a)
print("OK" if sorted(a) == sorted(b) and d <= 1e-4 else "FAIL", "max abs parameter difference %.2e" % d)
PY
)
    row "${cmp%% *}" "$name" "${cmp#* }"
  else
    row FAIL "$name" "fabric-run exit $fr_rc; fabric run: $(why lightning_cli)"
  fi
else
  row SKIPPED "$name" "lightning is not importable by $PYEXE"
fi
echo "gpu_check: $FAILED row(s) failed; results in $RESULTS, logs in $LOGS"
exit $((FAILED > 0))
