#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (bazel --config=fuzz, in its own output base so
# the main build's cache is untouched) and runs each for a bounded time on a copy of its
# corpus in the repository. A crash or broken invariant fails the run and prints the
# input (saved under $FUZZ_OUT). Used by tools/test.sh (CI); developers can run it longer:
#   bash tools/fuzz.sh [SECONDS_PER_TARGET] [--merge]
# --merge adds the inputs that found new coverage to the repository corpora (minimized).
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
MERGE=0
[[ ${2:-} == --merge ]] && MERGE=1
# target label : corpus directory
TARGETS=(
  "//launcher:cli_fuzzer:launcher/fuzz_corpus/cli"
  "//common:worker_control_fuzzer:common/fuzz_corpus/worker_control"
  "//slurm:hostlist_fuzzer:slurm/fuzz_corpus/hostlist"
  "//rendezvous:convert_fuzzer:rendezvous/fuzz_corpus/convert"
  "//rendezvous:state_fuzzer:rendezvous/fuzz_corpus/state"
  "//rendezvous:etcd_round_fuzzer:rendezvous/fuzz_corpus/etcd_round"
)
BASE=${FABRIC_FUZZ_OUTPUT_BASE:-$HOME/.cache/fabric-fuzz-bazel}
BZ=(bazel --output_base="$BASE")
labels=()
for t in "${TARGETS[@]}"; do labels+=("${t%:*}"); done
if ! "${BZ[@]}" build --config=fuzz "${labels[@]}"; then
  echo "fuzz: build failed"
  "${BZ[@]}" shutdown >/dev/null 2>&1
  exit 1
fi
BIN=$("${BZ[@]}" info --config=fuzz bazel-bin 2>/dev/null)
FUZZ_OUT=${FUZZ_OUT:-$(mktemp -d /tmp/fabric-fuzz.XXXXXX)}
failed=0
printf '%-34s %8s %10s %8s  %s\n' target seconds runs corpus result
for t in "${TARGETS[@]}"; do
  label=${t%:*}
  corpus=${t##*:}
  pkg=${label#//}
  pkg=${pkg%%:*}
  name=${label##*:}
  work=$FUZZ_OUT/$name
  mkdir -p "$work/corpus"
  cp -r "$corpus"/. "$work/corpus/"
  log=$work/log
  (cd "$work" && "$BIN/$pkg/$name" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 corpus >"$log" 2>&1)
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  size=$(ls "$work/corpus" | wc -l)
  if ((rc == 0)); then
    result=ok
  else
    result="FAILED (rc $rc)"
    failed=1
  fi
  printf '%-34s %8s %10s %8s  %s\n' "$label" "$SECONDS_PER_TARGET" "${runs:-?}" "$size" "$result"
  if ((rc != 0)); then
    grep -E "invariant broken|ERROR: (libFuzzer|AddressSanitizer|UndefinedBehavior)|runtime error" "$log" | head -5
    for c in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do
      [[ -e $c ]] && echo "  input: $c (base64 $(base64 -w0 "$c" | head -c 400))"
    done
  fi
  if ((MERGE)); then
    "$BIN/$pkg/$name" -merge=1 "$corpus" "$work/corpus" >/dev/null 2>&1
  fi
done
"${BZ[@]}" shutdown >/dev/null 2>&1
((failed)) && { echo "fuzz: a target failed; inputs under $FUZZ_OUT"; exit 1; }
rm -rf "$FUZZ_OUT"
echo "fuzz: all targets ran clean"
