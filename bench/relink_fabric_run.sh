#!/usr/bin/env bash
# An experiment for the startup benchmarks, not a build product: relinks the object
# files Bazel compiled for //launcher:fabric-run (-c opt) fully statically (absl from
# Debian's .a archives, libstdc++ and glibc static), to show how much of fabric-run's
# start-up is the dynamic loader resolving ~50 shared libraries. Writes
# bench/out/variants/fabric-run-static; bench/launcher_bench.py measures it when present.
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build -c opt //launcher:fabric-run >/dev/null 2>&1
execroot=$(bazel info -c opt execution_root 2>/dev/null)
params=$(ls "$execroot"/bazel-out/k8-opt/bin/launcher/fabric-run-*.params | head -1)
out=$(pwd)/bench/out/variants
mkdir -p "$out"
args=()
skip=0
while IFS= read -r a; do
  if ((skip)); then skip=0; continue; fi
  case "$a" in
    -o) skip=1 ;;                                   # our own output path below
    -Wl,-z,relro,-z,now) ;;                         # irrelevant without a loader
    -labsl_*) args+=("-l:lib${a#-l}.a") ;;          # Debian ships absl archives too
    *) args+=("$a") ;;
  esac
done <"$params"
(cd "$execroot" && g++ -o "$out/fabric-run-static" "${args[@]}" -static 2>&1 |
  grep -v 'warning: Using .* in statically linked' || true)
"$out/fabric-run-static" --version >/dev/null
echo "wrote $out/fabric-run-static"
