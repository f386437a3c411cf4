#!/usr/bin/env bash
# Installs fabric-run into PREFIX/bin:
#   fabric-run            the agent
#   fabric-rendezvous     the standalone rendezvous server
#   torchrun -> fabric-run   with --torchrun: scripts that call torchrun run fabric-run,
#                            with torchrun's flags, PET_* variables and defaults
#
#   bazel run -c opt //tools:install -- --prefix /usr/local [--torchrun]
#
# A relative --prefix is taken from the directory `bazel run` was started in. Exits 2
# with one line on a bad argument; installs nothing unless every binary is present.
set -euo pipefail
PREFIX=""
TORCHRUN=0
while (($#)); do
  case $1 in
    --prefix) [[ $# -ge 2 ]] || { echo "install: --prefix needs a directory" >&2; exit 2; }
              PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --torchrun) TORCHRUN=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install: unknown argument '$1'; use --prefix DIR [--torchrun]" >&2; exit 2 ;;
  esac
done
[[ -n $PREFIX ]] || { echo "install: no --prefix; e.g. --prefix /usr/local" >&2; exit 2; }
[[ $PREFIX == /* ]] || PREFIX=${BUILD_WORKING_DIRECTORY:-$PWD}/$PREFIX

find_binary() {  # the binary's path in this script's runfiles
  local dir
  for dir in "${RUNFILES_DIR:-}" "$0.runfiles" "${TEST_SRCDIR:-}"; do
    [[ -n $dir && -x $dir/fabric_run/$1 ]] && { echo "$dir/fabric_run/$1"; return 0; }
  done
  echo "install: $1 is missing from the runfiles; run this with 'bazel run //tools:install'" >&2
  return 1
}
FR=$(find_binary launcher/fabric-run)
FRZ=$(find_binary rendezvous/fabric-rendezvous)

mkdir -p "$PREFIX/bin"
install -m 755 "$FR" "$FRZ" "$PREFIX/bin/"
echo "installed fabric-run, fabric-rendezvous in $PREFIX/bin"
if ((TORCHRUN)); then
  ln -sfn fabric-run "$PREFIX/bin/torchrun"
  echo "installed $PREFIX/bin/torchrun -> fabric-run (put $PREFIX/bin before a Python torchrun in PATH)"
fi
