#!/usr/bin/env bash
# Bazel's workspace status command (.bazelrc): runs before every build, so a missing or
# broken .venv (the LibTorch that @torch links) is one clear line, not a missing header.
# It reads files only (no `import torch`: a few milliseconds). @torch's repository rule
# does the full check (import, version, C++ ABI) when the repository is first made.
set -u
cd "$(dirname "$0")/.."
want=2.11.0
fail() { echo "fabric-run build: $* : run \`bash tools/setup.sh\`" >&2; exit 1; }
[[ -x .venv/bin/python ]] || fail ".venv/bin/python is missing (LibTorch comes from the torch wheel in .venv)"
shopt -s nullglob
versions=(.venv/lib/python3*/site-packages/torch/version.py)
((${#versions[@]} == 1)) || fail ".venv has no torch package"
torch_dir=$(dirname "${versions[0]}")
version=$(sed -n "s/^__version__ = '\\([^'+]*\\).*/\\1/p" "${versions[0]}")
[[ $version == "$want" ]] || fail ".venv has torch ${version:-?}, the build needs $want"
[[ -f $torch_dir/lib/libtorch_cpu.so && -f $torch_dir/include/ATen/ATen.h ]] ||
  fail "torch in .venv lacks lib/libtorch_cpu.so or include/ (a broken install)"
echo "FABRIC_TORCH_VERSION $version"
