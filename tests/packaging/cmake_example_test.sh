#!/usr/bin/env bash
# The runtime's CMake package as a LibTorch user gets it: fabric_runtime.tar extracted into
# a fresh prefix, examples/cmake configured with Debian's cmake
#   CMAKE_PREFIX_PATH="<prefix>;$(python -c 'import torch; print(torch.utils.cmake_prefix_path)')"
# built, and its `train` run alone and under fabric-run --devices 2 (Gloo on CPU): exit 0,
# the world size it reports, and rank 0's loss falling (the mean of the last 5 steps under
# half the mean of the first 5). The package names no path of this checkout. Negative
# controls, beside a fake Torch 2.11 that configures: the package config stops with its
# message when Torch was not found first, when Torch is 2.10, when Torch asks for the
# pre-C++11 ABI, and (a package built against a CUDA LibTorch) when Torch is CPU-only.
set -uo pipefail
for lib in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tests/sh_test_lib.sh" \
  "$(dirname "$0")/../../tests/sh_test_lib.sh"; do
  [[ -e $lib ]] && break
done
source "$lib"  # runfile, PYTHON, pass/fail (FAILURES)

TAR=$(runfile packaging/fabric_runtime.tar) || exit 1
FR=$(runfile launcher/fabric-run) || exit 1
SRC=$(dirname "$(runfile examples/cmake/CMakeLists.txt)") || exit 1
TORCH_PREFIX=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)') || exit 1
CHECKOUT=$(cd "$(dirname "$(readlink -f "$SRC/CMakeLists.txt")")/../.." && pwd)
# /tmp, not TEST_TMPDIR: CMake's try-compile paths grow long.
DIR=$(mktemp -d /tmp/fabric_cmake.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
PREFIX=$DIR/prefix
mkdir -p "$PREFIX"
tar -xf "$TAR" -C "$PREFIX" || { echo "FAIL: tar -xf $TAR"; exit 1; }
unset MASTER_ADDR MASTER_PORT RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE

echo "== the package's layout, and no path of this checkout ($CHECKOUT) in it"
for f in lib/libfabric_runtime.a lib/libfabric_absl.a include/runtime/fabric.h \
  include/common/status_macros.h include/absl/status/statusor.h \
  lib/cmake/FabricRuntime/FabricRuntimeConfig.cmake \
  lib/cmake/FabricRuntime/FabricRuntimeConfigVersion.cmake; do
  [[ -f $PREFIX/$f ]] || fail "$f missing from the package"
done
if grep -rlF "$CHECKOUT" "$PREFIX"; then
  fail "the files above name $CHECKOUT"
else
  pass "no file names $CHECKOUT"
fi

echo "== examples/cmake: configure and build"
BUILD=$DIR/build
if cmake -S "$SRC" -B "$BUILD" -DCMAKE_PREFIX_PATH="$PREFIX;$TORCH_PREFIX" >"$DIR/configure.log" 2>&1 &&
  cmake --build "$BUILD" -j2 >"$DIR/build.log" 2>&1; then
  pass "configured and built"
else
  cat "$DIR/configure.log" "$DIR/build.log" 2>/dev/null | tail -60
  echo "FAIL: examples/cmake did not build"
  exit 1
fi

# loss_falls LABEL FILE: FILE's lines `[PREFIX]step N loss X` (rank 0's), 30 of them;
# the mean of the last 5 under half the mean of the first 5.
loss_falls() {
  local verdict
  verdict=$(sed -n 's/^\(\[rank 0\]: \)\{0,1\}step [0-9]* loss \([0-9.]*\)$/\2/p' "$2" | awk '
    { l[NR] = $1 }
    END {
      if (NR != 30) { print "steps " NR " (want 30)"; exit }
      for (i = 1; i <= 5; i++) { a += l[i]; b += l[NR - 5 + i] }
      a /= 5; b /= 5
      if (b < a / 2) printf "ok %.4f -> %.4f", a, b; else printf "first %.4f last %.4f", a, b
    }')
  if [[ $verdict == ok* ]]; then
    pass "$1: loss falls (${verdict#ok })"
  else
    fail "$1: loss does not fall: $verdict: $(cat "$2")"
  fi
}

echo "== ./train alone"
(cd "$DIR" && "$BUILD/train") >"$DIR/alone.log" 2>&1
rc=$?
[[ $rc -eq 0 ]] && pass "alone: exit 0" || fail "alone: exit $rc: $(cat "$DIR/alone.log")"
grep -qx "train: world=1 device=cpu" "$DIR/alone.log" && pass "alone: world 1" ||
  fail "alone: no 'train: world=1 device=cpu' in: $(cat "$DIR/alone.log")"
loss_falls alone "$DIR/alone.log"

echo "== fabric-run --devices 2 ./train"
(cd "$DIR" && "$FR" --devices 2 --run-id cmake_example "$BUILD/train") >"$DIR/fr.log" 2>&1
rc=$?
[[ $rc -eq 0 ]] && pass "fabric-run: exit 0" || fail "fabric-run: exit $rc: $(cat "$DIR/fr.log")"
grep -qx "\[rank 0\]: train: world=2 device=cpu" "$DIR/fr.log" && pass "fabric-run: world 2" ||
  fail "fabric-run: no '[rank 0]: train: world=2 device=cpu' in: $(cat "$DIR/fr.log")"
grep -qx "\[rank 0\]: done" "$DIR/fr.log" && pass "fabric-run: rank 0 done" ||
  fail "fabric-run: no '[rank 0]: done' in: $(cat "$DIR/fr.log")"
loss_falls fabric-run "$DIR/fr.log"

echo "== the package config's refusals"
# A consumer that finds FabricRuntime, with or without Torch first.
mkdir -p "$DIR/consumer"
cat >"$DIR/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(consumer CXX)
if(WITH_TORCH)
  find_package(Torch REQUIRED)
endif()
find_package(FabricRuntime REQUIRED)
CMAKE
# fake_torch DIR VERSION CXX_FLAGS CUDA_LIBRARIES: a Torch package config that says VERSION.
fake_torch() {
  mkdir -p "$1/Torch"
  printf 'set(PACKAGE_VERSION "%s")\nset(PACKAGE_VERSION_COMPATIBLE TRUE)\n' "$2" \
    >"$1/Torch/TorchConfigVersion.cmake"
  printf 'set(TORCH_LIBRARIES "")\nset(TORCH_CXX_FLAGS "%s")\nset(TORCH_CUDA_LIBRARIES "%s")\n' \
    "$3" "$4" >"$1/Torch/TorchConfig.cmake"
}
# The package was built against a CUDA LibTorch when .venv's is one (PyPI's is).
TORCH_CUDA=$("$PYTHON" -c 'import torch; print(torch.version.cuda or "")')
# configure NAME WITH_TORCH TORCH_PREFIX: rc in RC, output in OUT.
configure() {
  OUT=$(cmake -S "$DIR/consumer" -B "$DIR/consumer_$1" -DWITH_TORCH="$2" \
    -DCMAKE_PREFIX_PATH="$PREFIX;$3" 2>&1)
  RC=$?
}
# refused NAME WANT...: the last configure failed and its output holds every WANT.
refused() {
  local name=$1 w
  shift
  if [[ $RC -eq 0 ]]; then fail "$name: configured (want a refusal): $OUT"; return; fi
  for w in "$@"; do
    grep -qF -- "$w" <<<"$(tr -s ' \n' ' ' <<<"$OUT")" || { fail "$name: no '$w' in: $OUT"; return; }
  done
  pass "$name: refused, naming what was found and what is needed"
}
fake_torch "$DIR/torch_2_11" 2.11.0 "" c10_cuda
fake_torch "$DIR/torch_2_10" 2.10.0 "" c10_cuda
fake_torch "$DIR/torch_old_abi" 2.11.0 "-D_GLIBCXX_USE_CXX11_ABI=0" c10_cuda
fake_torch "$DIR/torch_cpu_only" 2.11.0 "" ""
configure fake_ok ON "$DIR/torch_2_11"
[[ $RC -eq 0 ]] && pass "a Torch that says 2.11.0 configures" || fail "fake 2.11.0 refused: $OUT"
configure no_torch OFF "$TORCH_PREFIX"
refused "without find_package(Torch)" "needs LibTorch 2.11 found first" "find_package(Torch REQUIRED)"
configure torch_2_10 ON "$DIR/torch_2_10"
refused "Torch 2.10.0" "built against LibTorch 2.11" "needs torch 2.11.x" "found Torch '2.10.0'"
configure old_abi ON "$DIR/torch_old_abi"
refused "pre-C++11 ABI" "uses the C++11 ABI" "_GLIBCXX_USE_CXX11_ABI=0"
if [[ -n $TORCH_CUDA ]]; then
  configure cpu_only ON "$DIR/torch_cpu_only"
  refused "CPU-only Torch" "with CUDA $TORCH_CUDA" "needs a CUDA build of torch 2.11" \
    "without CUDA libraries"
else
  echo "SKIP: .venv's torch is CPU-only, so is the package: no CUDA check to refuse"
fi

if ((FAILURES)); then
  echo "FAIL: $FAILURES check(s) failed"
  exit 1
fi
echo "PASS"
