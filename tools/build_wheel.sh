#!/usr/bin/env bash
# Builds fabric-run's wheel into DIR (default: dist/):
#
#   bash tools/build_wheel.sh [DIR]
#   pip install DIR/fabric_run-<version>-py3-none-<platform>.whl
#
# Bazel builds it (-c opt; //tools/wheel:wheel, tools/wheel/make_wheel.py says what it holds).
# Prints the wheel's path and size.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-dist}
[[ $DIR == /* ]] || DIR=$PWD/$DIR
bash tools/setup.sh >/dev/null
bazel build -c opt //tools/wheel:wheel
out=$(bazel info -c opt bazel-bin)/tools/wheel
bazel shutdown >/dev/null 2>&1 || true
name=$(cat "$out/fabric_run.whl.name")
mkdir -p "$DIR"
install -m 644 "$out/fabric_run.whl" "$DIR/$name"
echo "build_wheel: $DIR/$name ($(du -h "$DIR/$name" | cut -f1))"
