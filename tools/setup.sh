#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and run fabric-run.
# Idempotent; needs root (or sudo). Everything comes from Debian's package archive.
set -euo pipefail
PACKAGES=(
  bazel-bootstrap g++ pkg-config
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev libgtest-dev libgmock-dev
  libtorch-dev libgloo-dev python3-torch
  iproute2 procps psmisc
  python3-matplotlib
  slurm-wlm munge
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
