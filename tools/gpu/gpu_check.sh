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
# and the CUDA rows say SKIPPED: no GPU; with one GPU the rows that need two say SKIPPED:
# needs 2 GPUs. Every row has its own timeout, at most 120 s, and the whole check stays
# within GPU_CHECK_BUDGET seconds (default 450: under 8 minutes, the device tool's command
# limit is 10). The first row is `ldd` of the binaries against this torch's lib. Exit 0
# when no row failed, 1 otherwise, 2 when no usable torch is found.
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
      int(gpu), torch.cuda.device_count() if gpu else 0,
      torch.cuda.get_device_name(0) if gpu else "-", sys.executable, sep="\t")
PY
)
[[ $probe == OK* ]] || die "${probe#ERR }"
IFS=$'\t' read -r _ TORCH_VERSION TORCH_LIB HAS_GPU GPUS GPU_NAME PYEXE <<<"$probe"
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
# budget's; 125: not run, the budget is spent). No row waits more than ROW_CAP seconds.
ROW_CAP=120
run() {
  local log=$1 secs=$2 left=$((BUDGET - (SECONDS - START)))
  shift 2
  ((secs > ROW_CAP)) && secs=$ROW_CAP
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

# ---- ldd: every binary's libraries resolve against this torch (the first row) --------------
missing=""
for b in train worker nccl_check; do
  env "LD_LIBRARY_PATH=$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$BIN/$b" \
    >"$LOGS/ldd_$b.log" 2>&1
  missing+=$(awk '/not found/ {printf " %s:%s", b, $1}' b="$b" "$LOGS/ldd_$b.log")
done
cudart=$(awk '/libcudart/ {print $3; exit}' "$LOGS/ldd_worker.log")
nccl_so=$(awk '/libnccl/ {print $3; exit}' "$LOGS/ldd_worker.log")
fr_ldd=$(ldd "$FR" 2>&1 | grep -c '=>')
if [[ -z $missing ]]; then
  row OK "ldd: bin/ resolves against this torch" "train, worker, nccl_check; libcudart ${cudart:-none}, libnccl ${nccl_so:-none}; fabric-run links $fr_ldd shared libraries"
else
  row FAIL "ldd: bin/ resolves against this torch" "not found:$missing"
fi

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
  run "ddp_${dev}_torchrun" 120 "$PYEXE" -m torch.distributed.run --nproc-per-node "$n" \
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
R_PLACE="cuda: placement (cuda:LOCAL_RANK)"
R_NCCL="cuda: NCCL process group init"
R_WAIT="cuda: nccl wait, 1000 all-reduces"
PREC_SPECS=("ddp 32-true 1e-3" "fsdp 32-true 1e-3" "ddp bf16-mixed 5e-2" "fsdp bf16-mixed 5e-2"
  "ddp 16-mixed 2e-2" "fsdp 16-mixed 2e-2")
PREC_ROWS=("cuda: DDP step, 32-true" "cuda: FSDP per-layer step, 32-true" "cuda: DDP bf16-mixed"
  "cuda: FSDP bf16-mixed" "cuda: DDP 16-mixed with the scaler" "cuda: FSDP 16-mixed with the scaler")
R_OFF_NCCL="cuda: FSDP CPU offload, NCCL"
R_OFF_GLOO="cuda: FSDP CPU offload, 2 ranks over Gloo"
R_PINNED="cuda: offload pinned (FSDP shards)"
R_ACT="cuda: activation checkpointing, FSDP"
R_TRAINER="cuda: fsdp trainer, 2 Gloo ranks on cuda:0"
R_CKPT="cuda: checkpoint, CUDA RNG restored"
R_REC_GLOO="cuda: recovery in place, 2 Gloo on cuda:0"
R_REC_NCCL="cuda: recovery, NCCL refused at start"
R_DDP_FR="cuda: DDP (nccl) script, fabric-run"
R_DDP_TR="cuda: the same under torchrun (ratio)"
R_STEP="cuda: step time, C++ runtime vs Lightning"
R_GLOO4="cuda: 4 ranks sharing cuda:0 over Gloo, DDP"
R_LT="cuda: Lightning script, fabric-run vs fabric run"
R_DEAD="cuda: NCCL dead peer ends the survivor"
R_FSDP2="cuda: FSDP over NCCL, 2 ranks"
TWO_GPU_ROWS=("$R_DEAD" "$R_FSDP2")
CUDA_ROWS=("$R_PLACE" "$R_NCCL" "$R_WAIT" "${PREC_ROWS[@]}" "$R_OFF_NCCL" "$R_OFF_GLOO" "$R_PINNED"
  "$R_ACT" "$R_TRAINER" "$R_CKPT" "$R_REC_GLOO" "$R_REC_NCCL" "$R_DDP_FR" "$R_DDP_TR" "$R_STEP"
  "$R_GLOO4" "$R_LT")
if [[ $HAS_GPU != 1 ]]; then
  for r in "${CUDA_ROWS[@]}"; do row SKIPPED "$r" "no GPU (torch.cuda.is_available() is False)"; done
  for r in "${TWO_GPU_ROWS[@]}"; do
    row SKIPPED "$r" "no GPU (torch.cuda.is_available() is False); needs 2 GPUs"
  done
  echo "gpu_check: $FAILED row(s) failed; results in $RESULTS, logs in $LOGS"
  exit $((FAILED > 0))
fi
WITH_TORCH=(env "LD_LIBRARY_PATH=$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
free_port() { "$PYEXE" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run placement 120 "$FR" --accelerator cuda --devices 1 "$BIN/worker" precision p=32-true \
  strategy=ddp accelerator=cuda steps=3
line=$(grep -m1 -o 'PRECISION .*' "$LOGS/placement.log")
[[ $RC == 0 && $(field device "$line") == cuda:0 ]] &&
  row OK "$R_PLACE" "$(field device "$line") $GPU_NAME" || row FAIL "$R_PLACE" "$(why placement) $line"

run nccl 120 "${WITH_TORCH[@]}" "$BIN/nccl_check"
bad=$(grep '^CHECK ' "$LOGS/nccl.log" | grep -vc ' ok')
init_ms=$(sed -n 's/^FIGURE nccl_init_ms //p' "$LOGS/nccl.log")
if [[ $RC == 0 && $bad == 0 && -n $init_ms ]]; then
  row OK "$R_NCCL" "world 1: $(grep -c '^CHECK ' "$LOGS/nccl.log") collectives ok, init ${init_ms} ms"
else
  row FAIL "$R_NCCL" "$(why nccl) $(grep '^CHECK ' "$LOGS/nccl.log" | grep -v ' ok' | head -2 | tr '\n' ' ')"
fi

# The runtime's default (no TORCH_NCCL_BLOCKING_WAIT: the watchdog runs, wait() returns at
# enqueue) against blocking wait (every wait polls the GPU from the CPU).
run nccl_wait 60 env -u TORCH_NCCL_BLOCKING_WAIT "${WITH_TORCH[@]}" "$BIN/nccl_check" wait 1000
w_rc=$RC
w_us=$(sed -n 's/^FIGURE nccl_wait_us //p' "$LOGS/nccl_wait.log")
run nccl_wait_blocking 60 env TORCH_NCCL_BLOCKING_WAIT=1 "${WITH_TORCH[@]}" "$BIN/nccl_check" wait 1000
b_us=$(sed -n 's/^FIGURE nccl_wait_us //p' "$LOGS/nccl_wait_blocking.log")
if [[ $w_rc == 0 && $RC == 0 && -n $w_us && -n $b_us ]]; then
  row OK "$R_WAIT" "$w_us us/all-reduce (watchdog, default) vs $b_us us (TORCH_NCCL_BLOCKING_WAIT=1), ratio $(ratio "$b_us" "$w_us")x"
else
  row FAIL "$R_WAIT" "default exit $w_rc; blocking: $(why nccl_wait_blocking)"
fi

run precision_ref 120 "${WITH_TORCH[@]}" "$BIN/worker" precision p=32-true accelerator=cpu steps=10
ref_first=$(field first "$(grep -m1 '^PRECISION' "$LOGS/precision_ref.log")")
for k in "${!PREC_SPECS[@]}"; do
  read -r strategy p tol <<<"${PREC_SPECS[$k]}"
  name=${PREC_ROWS[$k]}
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

# equiv_row NAME LOG N ARGS...: the worker's equivalence scenario under fabric-run with N
# ranks (max abs difference to one process, checked by the worker); sets EQ_PLACE.
equiv_row() {
  local name=$1 log=$2 n=$3 diffs
  shift 3
  run "$log" 120 "$FR" --devices "$n" --grace-period 5 "$BIN/worker" equiv optim=adam steps=4 \
    accum=2 units=Linear jit=1 accelerator=cuda "$@"
  diffs=$(grep -o 'MAXDIFF rank=[0-9]* [^ ]*' "$LOGS/$log.log" | awk '{print $3}' | xargs)
  EQ_PLACE=$(grep -m1 -o 'PLACEMENT .*' "$LOGS/$log.log")
  if [[ $RC == 0 && $(wc -w <<<"$diffs") == "$n" ]]; then
    row OK "$name" "${EQ_PLACE:+$EQ_PLACE; }max abs difference to one process: $diffs"
    return 0
  fi
  row FAIL "$name" "$(why "$log") $EQ_PLACE"
  return 1
}
equiv_row "$R_OFF_NCCL" offload_nccl 1 strategy=fsdp_cpu_offload backend=nccl
off_rc=$?
off_place=$EQ_PLACE
equiv_row "$R_OFF_GLOO" offload_gloo 2 strategy=fsdp_cpu_offload backend=gloo
if [[ $off_rc != 0 || $off_place != *"params=cpu grads=cpu"* ]]; then
  row FAIL "$R_PINNED" "the offload run failed or kept its shards off the host: $off_place"
elif [[ $off_place == *"pinned=1"* ]]; then
  row OK "$R_PINNED" "the offloaded shards are in pinned host memory: $off_place"
else
  row FAIL "$R_PINNED" "the offloaded shards are pageable (pinned=0): host<->device copies synchronise (issue 29)"
fi
equiv_row "$R_ACT" act_ckpt 1 strategy=fsdp checkpoint=Linear backend=nccl

run fsdp_trainer 120 "$FR" --devices 2 --grace-period 5 "$BIN/train" --accelerator cuda \
  --process-group-backend gloo --strategy fsdp --fsdp-units TransformerEncoderLayer \
  --steps 30 --log-every 10 --d-model 64 --seq-len 32 --batch-size 4 --layers 2 --lr 0.01
l=$(losses fsdp_trainer)
done_line=$(grep -m1 -o 'done: .*' "$LOGS/fsdp_trainer.log")
if [[ $RC == 0 ]] && falls "$l"; then
  row OK "$R_TRAINER" "per-layer units, loss ${l%% *} -> ${l##* }, peak_device_mb=$(field peak_device_mb "$done_line"), step $(field mean_step_ms "$done_line") ms"
else
  row FAIL "$R_TRAINER" "$(why fsdp_trainer)"
fi

# Checkpoints from CUDA: the trainer resumes; the worker's draws from the CUDA generator
# after the save and after the load agree (the generator moves on every step, so a load
# that did not restore it would draw from the seed's state).
ck=$LOGS/cuda_ckpt
run cuda_ckpt_a 60 "$FR" --accelerator cuda --devices 1 "$BIN/train" --steps 20 --ckpt-every 10 \
  --log-every 10 --ckpt-dir "$ck"
a_rc=$RC
run cuda_ckpt_b 60 "$FR" --accelerator cuda --devices 1 "$BIN/train" --steps 30 --ckpt-every 10 \
  --log-every 10 --ckpt-dir "$ck"
b_rc=$RC
run cuda_rng_a 60 "${WITH_TORCH[@]}" "$BIN/worker" train accelerator=cuda steps=4 save_at=2 \
  "save=$LOGS/cuda_rng.ckpt" rng_on_device=1
rng_a=$(sed -n 's/^RNG //p' "$LOGS/cuda_rng_a.log")
run cuda_rng_b 60 "${WITH_TORCH[@]}" "$BIN/worker" train accelerator=cuda steps=4 \
  "resume=$LOGS/cuda_rng.ckpt" rng_on_device=1
rng_b=$(sed -n 's/^RNG //p' "$LOGS/cuda_rng_b.log")
if [[ $a_rc != 0 || $b_rc != 0 ]] || ! grep -q "resumed from .* at step 20" "$LOGS/cuda_ckpt_b.log"; then
  row FAIL "$R_CKPT" "trainer: first exit $a_rc; $(RC=$b_rc why cuda_ckpt_b)"
elif [[ $RC == 0 && -n $rng_a && $rng_a == "$rng_b" ]]; then
  row OK "$R_CKPT" "saved from cuda:0 at step 20, resumed to 30; CUDA draw after save $rng_a = after load $rng_b"
else
  row FAIL "$R_CKPT" "CUDA draw after save '$rng_a', after load '$rng_b': $(why cuda_rng_b)"
fi

run rec_gloo 120 "$FR" --devices 2 --recovery in-place --max-restarts 2 --grace-period 5 \
  "$BIN/train" --accelerator cuda --process-group-backend gloo --steps 30 --log-every 10 \
  --crash-at-step 10 --crash-rank 1 --crash-with kill "${SMALL[@]}"
if [[ $RC == 0 ]] && grep -q "recovered in place" "$LOGS/rec_gloo.log"; then
  row OK "$R_REC_GLOO" "$(grep -m1 -o 'recovered in place.*' "$LOGS/rec_gloo.log")"
else
  row FAIL "$R_REC_GLOO" "$(why rec_gloo)"
fi

t0=$(date +%s%N)
run rec_nccl 60 "$FR" --accelerator cuda --devices 1 --recovery in-place --max-restarts 0 \
  --grace-period 5 "$BIN/train" --steps 20 "${SMALL[@]}"
rec_ms=$(ms_since "$t0")
refusal=$(grep -m1 -o 'in-place recovery .*needs process_group_backend=gloo.*' "$LOGS/rec_nccl.log")
if [[ $RC != 0 && $RC != 124 && -n $refusal ]]; then
  row OK "$R_REC_NCCL" "exit $RC after ${rec_ms} ms: ${refusal:0:160}"
else
  row FAIL "$R_REC_NCCL" "expected a refusal naming process_group_backend=gloo; $(why rec_nccl)"
fi

ddp_rows cuda nccl 1 "cuda:"

# 4 ranks on one GPU over Gloo (NCCL allows one rank per GPU).
run gloo_4 120 "$FR" --devices 4 --grace-period 5 "$BIN/worker" equiv strategy=ddp optim=adam \
  steps=4 accelerator=cuda backend=gloo
diffs=$(grep -o 'MAXDIFF rank=[0-9]* [^ ]*' "$LOGS/gloo_4.log" | awk '{print $3}' | xargs)
if [[ $RC == 0 && $(wc -w <<<"$diffs") == 4 ]]; then
  row OK "$R_GLOO4" "max abs difference to one process, per rank: $diffs"
else
  row FAIL "$R_GLOO4" "$(why gloo_4)"
fi

SHAPE=(--d-model 256 --layers 4 --heads 8 --seq-len 128 --batch-size 32)
run step_cpp 120 "$FR" --accelerator cuda --devices 1 "$BIN/train" --precision bf16-mixed \
  --steps 60 --warmup-steps 15 --log-every 1000 "${SHAPE[@]}"
cpp_ms=$(sed -n 's/.*mean_step_ms=\([0-9.]*\).*/\1/p' "$LOGS/step_cpp.log")
if "$PYEXE" -c 'import lightning' 2>/dev/null; then
  run step_lightning 120 "$PYEXE" "$HERE/py/lightning_lm.py" --precision bf16-mixed \
    --steps 60 --warmup-steps 15 "${SHAPE[@]}"
  lt_ms=$(sed -n 's/.*mean_step_ms=\([0-9.]*\).*/\1/p' "$LOGS/step_lightning.log")
  if [[ -n $cpp_ms && -n $lt_ms ]]; then
    row OK "$R_STEP" "$cpp_ms ms vs $lt_ms ms (ratio $(ratio "$cpp_ms" "$lt_ms")x), bf16-mixed, d_model 256, 4 layers"
  else
    row FAIL "$R_STEP" "C++ '$cpp_ms' Lightning '$lt_ms': $(why step_lightning)"
  fi
else
  row SKIPPED "$R_STEP" "lightning is not importable by $PYEXE (C++ step: ${cpp_ms:-?} ms)"
fi

if "$PYEXE" -c 'import lightning' 2>/dev/null; then
  LT_ARGS=(--steps 12 --accumulate 2 --clip 1.0)
  run lightning_fr 120 "$FR" --accelerator cuda --devices 1 --python "$PYEXE" \
    "$HERE/py/fabric_train.py" --out "$LOGS/lt_fr" "${LT_ARGS[@]}"
  fr_rc=$RC
  run lightning_cli 120 "$PYEXE" -m lightning.fabric.cli run --accelerator cuda --devices 1 \
    --main-port "$(free_port)" "$HERE/py/fabric_train.py" --out "$LOGS/lt_cli" "${LT_ARGS[@]}"
  if [[ $fr_rc == 0 && $RC == 0 ]]; then
    cmp=$("$PYEXE" - "$LOGS/lt_fr/rank0.pt" "$LOGS/lt_cli/rank0.pt" <<'PY'
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
d = max((a[k] - b[k]).abs().max().item() for k in a)
print("OK" if sorted(a) == sorted(b) and d <= 1e-4 else "FAIL", "max abs parameter difference %.2e" % d)
PY
)
    row "${cmp%% *}" "$R_LT" "${cmp#* }"
  else
    row FAIL "$R_LT" "fabric-run exit $fr_rc; fabric run: $(why lightning_cli)"
  fi
else
  row SKIPPED "$R_LT" "lightning is not importable by $PYEXE"
fi

# ---- rows that need two GPUs (NCCL allows one rank per GPU) ---------------------------------
if ((GPUS < 2)); then
  for r in "${TWO_GPU_ROWS[@]}"; do row SKIPPED "$r" "needs 2 GPUs (this machine has $GPUS)"; done
else
  # No launcher (it would stop the gang at once): rank 1 SIGKILLs itself mid-loop; rank 0,
  # blocked reading an all-reduce's result, must be ended by NCCL's watchdog after the
  # process group's timeout (20 s here), not hang.
  port=$(free_port)
  t0=$(date +%s%N)
  for r in 1 0; do
    env RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 \
      MASTER_PORT=$port "${WITH_TORCH[@]}" timeout --kill-after=5 100 "$BIN/worker" \
      die_mid_collective victim=1 after=20 timeout_s=20 on_device=1 accelerator=cuda \
      >"$LOGS/nccl_dead_$r.log" 2>&1 &
  done
  wait $!
  RC=$?
  wait
  dead_ms=$(ms_since "$t0")
  if [[ $RC != 0 && $RC != 124 && $RC != 137 ]]; then
    row OK "$R_DEAD" "rank 1 killed; rank 0 ended (exit $RC) after ${dead_ms} ms, timeout 20 s"
  else
    row FAIL "$R_DEAD" "rank 0: $(why nccl_dead_0)"
  fi
  equiv_row "$R_FSDP2" fsdp_nccl_2 2 strategy=fsdp backend=nccl
fi
echo "gpu_check: $FAILED row(s) failed; results in $RESULTS, logs in $LOGS"
exit $((FAILED > 0))
