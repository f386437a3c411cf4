#!/usr/bin/env bash
# The GPU check: the runtime's CUDA half on a real NVIDIA GPU, in one run of under 10
# minutes. Prints a table and writes bench/gpu/RESULTS.md (and $OUT/ when $OUT is set,
# as on the device tool's machine).
#
#   bash tools/gpu_check.sh --prepare   # on the build machine (Bazel, this repository):
#                                       # builds -c opt and stages the binaries in
#                                       # bench/gpu/bin (git-ignored, ~20 MB)
#   bash tools/gpu_check.sh             # on the GPU machine: no Bazel, no network needed
#
# The GPU machine needs Python 3 with torch 2.11 (+cu130) and lightning (python3 on PATH,
# or PYTHON=...). The staged binaries link LibTorch dynamically and run against that
# machine's own torch/lib (LD_LIBRARY_PATH is set to it here): the same version they were
# built against. fabric-run itself needs only libc. With the device tool:
#   run(command="bash tools/gpu_check.sh", carry=["bench/gpu/bin"], timeout_s=600)
#
# Checks (each bounded by a timeout; a failed one is reported, the rest still run):
#   nccl        c10d ProcessGroupNCCL of world size 1 on cuda:0 (one rank per GPU is
#               NCCL's rule): all-reduce, broadcast, all-gather, reduce-scatter, barrier;
#               the process group's creation time
#   precision   the runtime's DDP and FSDP on cuda:0 in 32-true, bf16-mixed and 16-mixed:
#               the loss falls, the first loss matches a CPU fp32 run within tolerance
#   gloo_4      4 workers sharing cuda:0 over Gloo under fabric-run: DDP equals one
#               process on the concatenated batch (world size 4 on one GPU)
#   trainer     fabric-run --accelerator cuda --devices 1 on the example trainer
#   lightning   a Lightning Fabric script on cuda under fabric-run and under `fabric run`
#   step_time   the example model's step, C++ runtime vs Lightning, bf16-mixed (ratio)
# Without a GPU it stops at once with one line (exit 2).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/bench/gpu/bin
TARGETS=(//launcher:fabric-run //examples/train:train //tests/runtime:worker //bench/gpu:nccl_check)

if [[ ${1:-} == --prepare ]]; then
  bash tools/setup.sh >/dev/null
  bazel build -c opt "${TARGETS[@]}" || exit 1
  out=$(bazel info -c opt bazel-bin 2>/dev/null)
  bazel shutdown >/dev/null 2>&1 || true
  rm -rf "$BIN" && mkdir -p "$BIN"
  for t in "${TARGETS[@]}"; do
    path=${t#//}; path=${path/://}
    cp -L "$out/$path" "$BIN/" || exit 1
  done
  strip --strip-debug "$BIN"/* 2>/dev/null || true
  du -sh "$BIN"
  echo "gpu_check: staged in bench/gpu/bin; carry it to the GPU machine and run tools/gpu_check.sh"
  exit 0
fi

PY=${PYTHON:-python3}
die() { echo "gpu_check: $*" >&2; exit 2; }
command -v "$PY" >/dev/null || die "no $PY on PATH (set PYTHON=/path/to/python with torch 2.11)"
probe=$("$PY" - <<'PY' 2>&1
import os, sys
try:
    import torch
except Exception as e:
    print("ERR cannot import torch: %s" % e); sys.exit(0)
if not torch.cuda.is_available():
    print("ERR no GPU: torch %s sees no CUDA device (torch.cuda.is_available() is False)" % torch.__version__)
    sys.exit(0)
print("OK", torch.__version__, os.path.join(os.path.dirname(torch.__file__), "lib"), sep="\t")
print("GPU", torch.cuda.get_device_name(0), torch.cuda.device_count(), sep="\t")
PY
)
[[ $probe == OK* ]] || die "${probe#ERR }"
TORCH_VERSION=$(cut -f2 <<<"${probe%%$'\n'*}")
TORCH_LIB=$(cut -f3 <<<"${probe%%$'\n'*}")
GPU_NAME=$(grep '^GPU' <<<"$probe" | cut -f2)
GPU_COUNT=$(grep '^GPU' <<<"$probe" | cut -f3)
[[ $TORCH_VERSION == 2.11.* ]] || die "torch $TORCH_VERSION here; the binaries were built against 2.11"
for b in fabric-run train worker nccl_check; do
  [[ -x $BIN/$b ]] || die "missing $BIN/$b: run 'bash tools/gpu_check.sh --prepare' where Bazel is, and carry bench/gpu/bin"
done
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
unset RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT LT_ACCELERATOR LT_STRATEGY LT_PRECISION
LOGS=$(mktemp -d /tmp/gpu_check.XXXXXX)
FR=$BIN/fabric-run
ROWS=()
FIGURES=()
FAILED=0
row() {  # row NAME PASS|FAIL DETAIL
  ROWS+=("| $1 | $2 | $3 |")
  [[ $2 == PASS ]] || FAILED=$((FAILED + 1))
  printf '%-28s %-5s %s\n' "$1" "$2" "$3"
}
run() {  # run NAME SECONDS CMD...: output in $LOGS/NAME.log, status in RC
  local name=$1 secs=$2
  shift 2
  timeout --kill-after=10 "$secs" "$@" >"$LOGS/$name.log" 2>&1
  RC=$?
}
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2" | head -n1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "gpu_check: $GPU_NAME (x$GPU_COUNT), torch $TORCH_VERSION, logs in $LOGS"

# --- nccl -------------------------------------------------------------------------------
run nccl 180 "$BIN/nccl_check"
while read -r _ name verdict detail; do
  row "nccl: $name" "$([[ $verdict == ok ]] && echo PASS || echo FAIL)" "${detail:-}"
done < <(grep '^CHECK ' "$LOGS/nccl.log")
grep -q '^CHECK ' "$LOGS/nccl.log" || row "nccl" FAIL "exit $RC: $(tail -n 3 "$LOGS/nccl.log" | tr '\n' ' ')"
init_ms=$(sed -n 's/^FIGURE nccl_init_ms //p' "$LOGS/nccl.log")
[[ -n $init_ms ]] && FIGURES+=("| NCCL process group creation, world size 1 (ms) | $init_ms |")

# --- precision: DDP and FSDP on cuda:0 against a CPU fp32 run ----------------------------
run precision_cpu_ref 300 "$BIN/worker" precision p=32-true accelerator=cpu steps=20
ref=$(grep '^PRECISION' "$LOGS/precision_cpu_ref.log")
ref_first=$(field first "$ref")
for strategy in ddp fsdp; do
  for p in 32-true bf16-mixed 16-mixed; do
    name="precision: $strategy $p"
    log="precision_${strategy}_$p"
    run "$log" 300 "$BIN/worker" precision "p=$p" "strategy=$strategy" accelerator=cuda steps=20
    line=$(grep '^PRECISION' "$LOGS/$log.log")
    if [[ $RC != 0 || -z $line || -z $ref_first ]]; then
      row "$name" FAIL "exit $RC: $(tail -n 2 "$LOGS/$log.log" | tr '\n' ' ')"
      continue
    fi
    verdict=$("$PY" - "$ref_first" "$(field first "$line")" "$(field last "$line")" "$p" <<'PY'
import sys
ref, first, last, p = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
tol = {"32-true": 1e-3, "bf16-mixed": 5e-2, "16-mixed": 2e-2}[p]
rel = abs(first - ref) / abs(ref)
ok = rel <= tol and last < first
print("PASS" if ok else "FAIL", "first %.5f vs cpu fp32 %.5f (rel %.1e, tol %.0e), last %.5f" % (first, ref, rel, tol, last))
PY
)
    row "$name" "${verdict%% *}" "$(field device "$line") compute=$(field compute "$line") ${verdict#* }"
  done
done

# --- 4 workers sharing cuda:0 over Gloo -----------------------------------------------------
run gloo_4 300 "$FR" --devices 4 --grace-period 5 "$BIN/worker" equiv strategy=ddp optim=adam \
  steps=4 accelerator=cuda backend=gloo
diffs=$(grep -o 'MAXDIFF rank=[0-9]* [^ ]*' "$LOGS/gloo_4.log" | awk '{print $3}' | xargs)
if [[ $RC == 0 && $(wc -w <<<"$diffs") == 4 ]]; then
  row "gloo: 4 ranks on cuda:0, DDP" PASS "max abs difference to one process, per rank: $diffs (<= 1e-5)"
else
  row "gloo: 4 ranks on cuda:0, DDP" FAIL "exit $RC: $(grep -m2 -E 'error|FAIL|root cause' "$LOGS/gloo_4.log" | tr '\n' ' ')"
fi

# --- FSDP CPU offload on cuda:0: shards, gradients and optimizer on the host -------------
# 2 ranks over Gloo sharing cuda:0, and 1 rank over NCCL; control: plain fsdp keeps them on cuda:0.
for spec in "offload_gloo2 2 fsdp_cpu_offload backend=gloo params=cpu grads=cpu" \
            "offload_nccl1 1 fsdp_cpu_offload backend=nccl params=cpu grads=cpu" \
            "offload_control 2 fsdp backend=gloo params=cuda:0 grads=cuda:0"; do
  read -r log n strategy backend want <<<"$spec"
  run "$log" 300 "$FR" --devices "$n" --grace-period 5 "$BIN/worker" equiv "strategy=$strategy" \
    optim=adam steps=4 accum=2 units=Linear jit=1 accelerator=cuda "$backend"
  diffs=$(grep -o 'MAXDIFF rank=[0-9]* [^ ]*' "$LOGS/$log.log" | awk '{print $3}' | xargs)
  place=$(grep -m1 -o 'PLACEMENT .*' "$LOGS/$log.log")
  if [[ $RC == 0 && $(wc -w <<<"$diffs") == "$n" && $place == *"model=cuda:0 $want"* ]]; then
    row "fsdp: $strategy, $n rank(s), $backend" PASS "$place; max abs difference to one process: $diffs"
  else
    row "fsdp: $strategy, $n rank(s), $backend" FAIL "exit $RC: $place $(grep -m2 -E 'error|FAIL' "$LOGS/$log.log" | tr '\n' ' ')"
  fi
done

# --- fabric-run launching the example trainer on cuda ----------------------------------------
run trainer 300 "$FR" --accelerator cuda --devices 1 "$BIN/train" --steps 60 --log-every 20 \
  --precision bf16-mixed
losses=$(sed -n 's/.*step [0-9]* loss \([0-9.]*\).*/\1/p' "$LOGS/trainer.log" | xargs)
first=${losses%% *}; last=${losses##* }
if [[ $RC == 0 ]] && grep -q 'device=cuda:0' "$LOGS/trainer.log" &&
   "$PY" -c "import sys; sys.exit(0 if $last < $first else 1)" 2>/dev/null; then
  row "trainer: fabric-run --accelerator cuda" PASS "cuda:0 bf16-mixed, loss $first -> $last"
else
  row "trainer: fabric-run --accelerator cuda" FAIL "exit $RC: $(tail -n 3 "$LOGS/trainer.log" | tr '\n' ' ')"
fi

# --- a Lightning Fabric script on cuda: fabric-run and `fabric run` --------------------------
SCRIPT=$ROOT/tests/lightning/fabric_train.py
LT_ARGS=(--steps 12 --accumulate 2 --clip 1.0)
run lightning_fr 300 "$FR" --accelerator cuda --devices 1 --python "$PY" "$SCRIPT" \
  --out "$LOGS/lt_fr" "${LT_ARGS[@]}"
fr_rc=$RC
CLI=$(dirname "$(command -v "$PY")")/fabric
[[ -x $CLI ]] || CLI=""
if [[ -n $CLI ]]; then
  run lightning_cli 300 "$CLI" run --accelerator cuda --devices 1 --main-port "$(free_port)" \
    "$SCRIPT" --out "$LOGS/lt_cli" "${LT_ARGS[@]}"
else
  run lightning_cli 300 "$PY" -m lightning.fabric.cli run --accelerator cuda --devices 1 \
    --main-port "$(free_port)" "$SCRIPT" --out "$LOGS/lt_cli" "${LT_ARGS[@]}"
fi
cli_rc=$RC
if [[ $fr_rc == 0 && $cli_rc == 0 ]]; then
  cmp=$("$PY" - "$LOGS/lt_fr/rank0.pt" "$LOGS/lt_cli/rank0.pt" <<'PY'
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
d = max((a[k] - b[k]).abs().max().item() for k in a)
print("PASS" if sorted(a) == sorted(b) and d <= 1e-4 else "FAIL", "max abs parameter difference %.2e" % d)
PY
)
  env_line=$(grep -o 'LIGHTNING env=[^ ]*.*strategy=[^ ]*' "$LOGS/lightning_fr.log" | head -n1)
  row "lightning: cuda, fabric-run vs fabric run" "${cmp%% *}" "${cmp#* }; $env_line"
else
  row "lightning: cuda, fabric-run vs fabric run" FAIL \
    "fabric-run exit $fr_rc, fabric run exit $cli_rc: $(tail -n 2 "$LOGS/lightning_cli.log" | tr '\n' ' ')"
fi

# --- figure: step time, C++ runtime vs Lightning, bf16-mixed -------------------------------
SHAPE=(--d-model 256 --layers 4 --heads 8 --seq-len 128 --batch-size 32)
run step_cpp 300 "$FR" --accelerator cuda --devices 1 "$BIN/train" --precision bf16-mixed \
  --steps 80 --warmup-steps 20 --log-every 1000 "${SHAPE[@]}"
cpp_ms=$(sed -n 's/.*mean_step_ms=\([0-9.]*\).*/\1/p' "$LOGS/step_cpp.log")
run step_lightning 300 "$PY" "$ROOT/bench/gpu/lightning_lm.py" --precision bf16-mixed \
  --steps 80 --warmup-steps 20 "${SHAPE[@]}"
lt_ms=$(sed -n 's/.*mean_step_ms=\([0-9.]*\).*/\1/p' "$LOGS/step_lightning.log")
if [[ -n $cpp_ms && -n $lt_ms ]]; then
  ratio=$("$PY" -c "print('%.2f' % ($cpp_ms / $lt_ms))")
  row "step time: C++ vs Lightning" PASS "${cpp_ms} ms vs ${lt_ms} ms (ratio ${ratio}x)"
  FIGURES+=("| Example model step, bf16-mixed, d_model 256, 4 layers, seq 128, batch 32: C++ runtime / Lightning (ms) | $cpp_ms / $lt_ms = ${ratio}x |")
else
  row "step time: C++ vs Lightning" FAIL "C++: '${cpp_ms}' Lightning: '${lt_ms}' (see logs)"
fi

# --- results -----------------------------------------------------------------------------
{
  echo "# GPU check results"
  echo
  echo "Written by \`tools/gpu_check.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $GPU_NAME (x$GPU_COUNT), torch $TORCH_VERSION,"
  echo "$(nproc) CPU cores; binaries built from commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "NCCL allows one rank per GPU, so on one GPU its process group has world size 1; world"
  echo "sizes above 1 on one GPU go through Gloo (which handles CUDA tensors)."
  echo
  echo "| check | result | detail |"
  echo "|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "| figure | value |"
  echo "|---|---|"
  printf '%s\n' "${FIGURES[@]}"
  echo
  echo "$FAILED check(s) failed."
} >"$LOGS/RESULTS.md"
cp "$LOGS/RESULTS.md" bench/gpu/RESULTS.md 2>/dev/null || true
if [[ -n ${OUT:-} ]]; then
  cp "$LOGS/RESULTS.md" "$OUT/RESULTS.md"
  tar -C "$LOGS" -czf "$OUT/gpu_check_logs.tar.gz" --exclude='*.pt' . 2>/dev/null || true
fi
echo "gpu_check: $FAILED check(s) failed; results in bench/gpu/RESULTS.md"
((FAILED == 0))
