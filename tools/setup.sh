#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and run fabric-run.
# Idempotent; needs root (or sudo). Debian's package archive for the toolchain and system
# libraries; PyPI for the Python environment .venv/ in the repository root:
# torch==2.11.0 (whose wheel also carries the LibTorch the runtime links) and lightning.
# Every test, example and benchmark uses .venv/bin/python, .venv/bin/torchrun, .venv/bin/fabric.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.11.0        # the GPU machine's torch (2.11.0+cu130): binaries must run against it
LIGHTNING_VERSION=2.6.6
PACKAGES=(
  bazel-bootstrap g++ pkg-config
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev libgtest-dev libgmock-dev
  libgloo-dev               # headers only: ProcessGroupGloo.hpp includes them, the wheel has none
  nlohmann-json3-dev        # header-only JSON (launcher/event_log.h)
  python3 python3-venv
  iproute2 procps psmisc
  slurm-wlm munge
  clang libclang-rt-14-dev  # libFuzzer targets (tools/fuzz.sh)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
if ((${#missing[@]})); then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Python environment. Checked by importing what we need at the versions we pin, so a
# broken or half-made .venv is repaired rather than trusted.
venv_ok() {
  [[ -x .venv/bin/python && -x .venv/bin/torchrun && -x .venv/bin/fabric ]] &&
    .venv/bin/python - "$TORCH_VERSION" "$LIGHTNING_VERSION" <<'PY' 2>/dev/null
import sys, torch, lightning, click
ok = torch.__version__.split("+")[0] == sys.argv[1] and lightning.__version__ == sys.argv[2]
sys.exit(0 if ok else 1)
PY
}
if ! venv_ok; then
  echo "setup: creating .venv with torch==$TORCH_VERSION and lightning==$LIGHTNING_VERSION (PyPI)"
  [[ -x .venv/bin/python ]] || /usr/bin/python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade-strategy only-if-needed \
    "torch==$TORCH_VERSION" "lightning==$LIGHTNING_VERSION" click  # click: the `fabric` CLI
  if ! venv_ok; then
    echo "setup: .venv is still not usable (torch $TORCH_VERSION, lightning $LIGHTNING_VERSION): remove .venv and run tools/setup.sh again" >&2
    exit 1
  fi
fi
