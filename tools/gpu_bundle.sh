#!/usr/bin/env bash
# Makes the GPU check's self-contained folder in DIR (default bench/gpu/bundle, git-ignored):
#
#   bash tools/gpu_bundle.sh [DIR]      # here, with Bazel (-c opt)
#   bash DIR/gpu_check.sh               # on the GPU machine: no Bazel, no .venv, no network
#
# With the device tool: run(command="bash bench/gpu/bundle/gpu_check.sh",
# carry=["bench/gpu/bundle"], timeout_s=600); gpu_results.txt is written in the current
# directory and copied to $OUT. DIR is replaced. Prints its size (under 60 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-bench/gpu/bundle}
[[ $DIR == /* ]] || DIR=$PWD/$DIR
bash tools/setup.sh >/dev/null
bazel build -c opt //tools/gpu:bundle
tar_path=$(bazel info -c opt bazel-bin)/tools/gpu/gpu_bundle.tar
bazel shutdown >/dev/null 2>&1 || true
rm -rf "$DIR" && mkdir -p "$DIR"
tar -C "$DIR" -xf "$tar_path"
echo "gpu_bundle: $DIR ($(du -sh "$DIR" | cut -f1)); run: bash $DIR/gpu_check.sh"
