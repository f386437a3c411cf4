#!/usr/bin/env bash
# The wheel as a user gets it: a fresh environment with torch 2.11 (its own copy, not the
# repository's .venv), `pip install` of the wheel, then outside the repository: the
# metadata, the platform tag (auditwheel's), the native commands, a Python DDP script
# and the C++ example trainer (its RUNPATH into .venv removed) under the installed
# fabric-run, torchrun left alone until `fabric-run install-torchrun`, and the C++
# runtime's CMake package under fabric_run.cmake_prefix_path.
set -uo pipefail
for lib in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/tests/sh_test_lib.sh" \
  "$(dirname "$0")/../../tests/sh_test_lib.sh"; do
  [[ -e $lib ]] && break
done
source "$lib"  # runfile, PYTHON, other_torch_env, pass/fail/finish
WHEEL=$(runfile tools/wheel/fabric_run.whl) || exit 1
NAME=$(cat "$(runfile tools/wheel/fabric_run.whl.name)") || exit 1
TRAIN_BUILT=$(runfile examples/train/train) || exit 1
AUDITWHEEL=$(dirname "$PYTHON")/auditwheel
T=$(mktemp -d /tmp/fabric-wheel.XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$WHEEL" "$T/$NAME"
echo "wheel: $NAME, $(du -k "$T/$NAME" | cut -f1) KiB"

other_torch_env "$T/env" || { echo "FAIL: could not make the environment"; exit 1; }
"$T/env/bin/python" -m pip install -q --no-index --no-deps "$T/$NAME" ||
  { echo "FAIL: pip install of the wheel"; exit 1; }
FR=$T/env/bin/fabric-run
# The user's shell: no .venv anywhere, system python3 first on PATH (it has no torch).
clean() { env -i HOME="$T" PATH=/usr/bin:/bin TMPDIR=/tmp "$@"; }
mkdir -p "$T/work" && cd "$T/work" || exit 1

# Name and tag.
tag=$("$AUDITWHEEL" show "$T/$NAME" 2>&1 | tr -s ' \n' ' ' |
      sed -n 's/.*consistent with the following platform tag: "\([a-z0-9_]*\)".*/\1/p')
[[ -n $tag && $NAME == fabric_run-*-py3-none-$tag.whl ]] &&
  pass "platform tag $tag is auditwheel's" || fail "name $NAME, auditwheel says '$tag'"
version=$(clean "$FR" --version)
[[ $NAME == fabric_run-${version#fabric-run }-* ]] && pass "version: $version" ||
  fail "wheel $NAME vs $version"
meta=$(clean "$T/env/bin/python" -c 'from importlib import metadata as m; print(m.distribution("fabric-run").read_text("METADATA"))')
for field in "Name: fabric-run" "License-Expression: Apache-2.0" "Project-URL: Source, " \
             "Requires-Python: " "Description-Content-Type: text/markdown" "# fabric-run"; do
  grep -qF "$field" <<<"$meta" || fail "METADATA has no '$field'"
done
pass "metadata fields"

# The commands are the native binaries (no Python start-up), needing only libc and libm.
for b in fabric-run fabric-rendezvous; do
  [[ $(head -c 4 "$T/env/bin/$b" | od -An -c | tr -d ' ') == 177ELF ]] || fail "$b is no ELF binary"
  libs=$(ldd "$T/env/bin/$b" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux)' | sort | tr '\n' ' ')
  [[ $libs == "libc.so.6 libm.so.6 " ]] && pass "$b needs $libs" || fail "$b needs $libs"
done
head -1 "$T/env/bin/torchrun" | grep -q python && pass "torchrun is still torch's" ||
  fail "the wheel shadowed torchrun"
clean "$T/env/bin/python" -m fabric_run --version | grep -q "^fabric-run " &&
  pass "python -m fabric_run" || fail "python -m fabric_run --version"

# A Python DDP script: the environment's Python by default, although python3 on PATH has
# no torch; fabric_heartbeat importable.
cat >ddp.py <<'PY'
import torch, torch.distributed as dist, fabric_heartbeat
dist.init_process_group("gloo")
t = torch.ones(2) * (dist.get_rank() + 1)
dist.all_reduce(t)
fabric_heartbeat.beat(step=1, total=1)
print("ddp rank %d/%d sum %g torch %s" % (dist.get_rank(), dist.get_world_size(), t[0].item(), torch.__file__))
dist.destroy_process_group()
PY
out=$(clean "$FR" --devices 2 ddp.py 2>&1)
rc=$?
if [[ $rc == 0 && $(grep -c "sum 3 torch $T/env/" <<<"$out") == 2 ]]; then
  pass "Python DDP script, 2 workers, torch from the environment"
else
  fail "DDP script (exit $rc): $out"
fi

# The C++ example trainer, no RUNPATH: LibTorch comes from the environment's torch.
cp "$TRAIN_BUILT" "$T/train" && chmod u+w "$T/train" && patchelf --remove-rpath "$T/train"
out=$(clean "$FR" --devices 2 "$T/train" --steps 30 --log-every 10 --d-model 32 --seq-len 16 \
      --batch-size 4 --layers 1 --lr 0.01 --ckpt-dir "$T/ckpt" 2>&1)
rc=$?
losses=($(sed -n 's/.*step [0-9]* loss \([0-9.]*\).*/\1/p' <<<"$out"))
if [[ $rc == 0 && ${#losses[@]} -ge 2 ]] &&
   awk -v a="${losses[0]}" -v b="${losses[-1]}" 'BEGIN{exit !(b < a)}'; then
  pass "C++ trainer under the installed fabric-run: loss ${losses[0]} -> ${losses[-1]}"
else
  fail "C++ trainer (exit $rc): $out"
fi
# ... and with a Python that has no torch: one line, exit 2, nothing run.
out=$(clean "$FR" --devices 2 --python /usr/bin/python3 "$T/train" --steps 1 2>&1)
rc=$?
if [[ $rc == 2 && $(grep -c . <<<"$out") == 1 && $out == *"links LibTorch"*"has no torch"* ]]; then
  pass "no torch: $out"
else
  fail "no torch (exit $rc): $out"
fi

# torchrun only when asked, and back.
clean "$FR" install-torchrun || fail "install-torchrun"
[[ $(clean "$T/env/bin/torchrun" --version) == *"fabric-run"*"torchrun"* ]] &&
  pass "install-torchrun: torchrun runs fabric-run" || fail "torchrun --version after install"
clean "$FR" install-torchrun --undo || fail "install-torchrun --undo"
head -1 "$T/env/bin/torchrun" | grep -q python && pass "--undo: torch's torchrun back" ||
  fail "torchrun after --undo"

# The C++ runtime's CMake package.
prefix=$(clean "$T/env/bin/python" -c 'import fabric_run; print(fabric_run.cmake_prefix_path)')
[[ $prefix == "$T/env/"* ]] || fail "cmake_prefix_path $prefix"
if [[ -f $prefix/lib/cmake/FabricRuntime/FabricRuntimeConfig.cmake ]]; then
  pass "FabricRuntimeConfig.cmake under cmake_prefix_path"
else
  fail "no lib/cmake/FabricRuntime/FabricRuntimeConfig.cmake under $prefix"
fi
# ... with which examples/cmake builds against the environment's torch, and trains under
# the installed fabric-run with 2 workers (its RUNPATH, CMake's, names the environment's
# torch/lib).
SRC=$(dirname "$(runfile examples/cmake/CMakeLists.txt)") || exit 1
torch_prefix=$(clean "$T/env/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
if clean cmake -S "$SRC" -B "$T/cmake" -DCMAKE_PREFIX_PATH="$prefix;$torch_prefix" \
     >"$T/cmake.log" 2>&1 && clean cmake --build "$T/cmake" -j2 >>"$T/cmake.log" 2>&1; then
  out=$(clean "$FR" --devices 2 "$T/cmake/train" 2>&1)
  rc=$?
  losses=($(sed -n 's/.*loss[= ]\([0-9.]*\).*/\1/p' <<<"$out"))
  if [[ $rc == 0 && ${#losses[@]} -ge 2 ]] &&
     awk -v a="${losses[0]}" -v b="${losses[-1]}" 'BEGIN{exit !(b < a)}'; then
    pass "examples/cmake against the wheel, 2 workers: loss ${losses[0]} -> ${losses[-1]}"
  else
    fail "examples/cmake train (exit $rc): $(tail -5 <<<"$out")"
  fi
else
  fail "examples/cmake against the wheel did not build: $(tail -20 "$T/cmake.log")"
fi
# Nothing of this checkout in what was installed.
repo=$(cd "$(dirname "$PYTHON")/../.." && pwd)
if grep -rlF "$repo" "$T/env/lib/python"*/site-packages/fabric_run* "$T/env/bin/fabric-run" 2>/dev/null; then
  fail "the installed files name $repo"
fi
finish
