#!/usr/bin/env bash
# Every option of torchrun 2.11's own argument parser (read from .venv's torch, so a flag a
# new torchrun adds fails this test until fabric-run handles it), in every spelling torchrun
# accepts: fabric-run either honours it (`--dry-run` exits 0) or refuses it with one line
# that says why (exit 2, and not "unknown flag"). Negative control: an invented flag is
# "unknown flag".
set -uo pipefail
PYTHON=${FABRIC_VENV_PYTHON:-}
[[ -n $PYTHON && -x $PYTHON ]] || { echo "FAIL: FABRIC_VENV_PYTHON='$PYTHON': run tools/setup.sh"; exit 1; }
FR=""
for p in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/launcher/fabric-run" "$(dirname "$0")/../bazel-bin/launcher/fabric-run"; do
  [[ -x $p ]] && { FR=$p; break; }
done
[[ -n $FR ]] || { echo "FAIL: fabric-run not found"; exit 1; }
TMP=$(mktemp -d "${TEST_TMPDIR:-/tmp}/torchrun_flags.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# A plausible value for each option that takes one (argparse's nargs None).
sample() {
  case $1 in
    nnodes | nproc-per-node | max-restarts) echo 1 ;;
    rdzv-backend) echo c10d ;;
    rdzv-endpoint) echo 127.0.0.1:29400 ;;
    rdzv-id | role) echo job1 ;;
    rdzv-conf) echo join_timeout=10 ;;
    monitor-interval) echo 0.5 ;;
    start-method) echo spawn ;;
    event-log-handler) echo null ;;
    log-dir) echo "$TMP" ;;
    redirects | tee) echo 0 ;;
    local-ranks-filter | node-rank) echo 0 ;;
    master-addr | local-addr) echo 127.0.0.1 ;;
    master-port) echo 29500 ;;
    signals-to-handle) echo SIGTERM,SIGINT ;;
    numa-binding) echo node ;;
    *) echo x ;;
  esac
}

options=$("$PYTHON" - <<'PY'
import torch.distributed.run as run
for a in run.get_args_parser()._actions:
    if a.option_strings and a.dest != "help":
        print(a.nargs if a.nargs is not None else "v", *a.option_strings)
PY
) || { echo "FAIL: cannot read torchrun's parser"; exit 1; }
fail=0
honoured=0
refused=0
while read -r nargs spellings; do
  for opt in $spellings; do
    canonical=$(sed 's/^-*//; s/_/-/g' <<<"${spellings##* }")
    args=("$opt")
    [[ $nargs == v ]] && args+=("$(sample "$canonical")")
    err=$("$FR" --dry-run "${args[@]}" /bin/true 2>&1 >/dev/null)
    rc=$?
    if [[ $rc == 0 ]]; then
      honoured=$((honoured + 1))
    elif [[ $rc == 2 && $err != *"unknown flag"* && $(grep -c . <<<"$err") == 2 ]]; then
      refused=$((refused + 1))
      echo "refused: ${args[*]}: $(head -n1 <<<"$err")"
    else
      echo "FAIL: ${args[*]}: exit $rc: $err"
      fail=1
    fi
  done
done <<<"$options"
echo "torchrun spellings: $honoured honoured, $refused refused with a reason"
((honoured + refused >= 40)) || { echo "FAIL: only $((honoured + refused)) spellings walked"; fail=1; }
err=$("$FR" --dry-run --surely-not-a-torchrun-flag 1 /bin/true 2>&1 >/dev/null)
[[ $? == 2 && $err == *"unknown flag"* ]] || { echo "FAIL: negative control: $err"; fail=1; }
((fail == 0)) && echo PASS
exit $fail
