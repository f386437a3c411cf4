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
  libncurses-dev tmux       # fabric-run top (launcher/top.h), and its test in a real terminal
  python3 python3-venv
  iproute2 procps psmisc
  slurm-wlm munge
  clang libclang-rt-14-dev  # libFuzzer targets (tools/fuzz.sh)
  clang-format              # tools/check_format.sh
  cmake                     # examples/cmake against the runtime's CMake package (doc/cmake.md)
  dpkg-dev                  # dpkg-source, for `apt-get source abseil` below
  prometheus                # promtool and a real server: metrics tests (doc/metrics.md)
  patchelf                  # the GPU bundle's binaries lose their RUNPATH into .venv (tools/gpu_bundle.sh)
  etcd-server etcd-client   # the etcd control plane's tests start their own members (doc/rendezvous.md)
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

# absl's synchronization sources for the TSan build (third_party/absl_tsan, doc/build.md
# "Sanitizers"): Debian's own source package of the libabsl-dev installed, by `apt-get source`
# (its .dsc and tarballs are checked against the signed archive's Sources index; Debian's
# patches are applied), unpacked once into ABSL_SRC_DIR. Its headers are deleted, so the
# build compiles against Debian's in /usr/include. VERSION holds the Debian source version;
# third_party/absl_tsan/repo.bzl refuses a directory whose VERSION is not the installed one.
ABSL_SRC_DIR=/usr/local/src/fabric-run/abseil
absl_version=$(dpkg-query -W -f='${source:Version}' libabsl-dev)
if [[ "$(cat "$ABSL_SRC_DIR/VERSION" 2>/dev/null)" != "$absl_version" ]]; then
  echo "setup: unpacking Debian's abseil $absl_version source into $ABSL_SRC_DIR (apt-get source)"
  if ! apt-cache showsrc --only-source abseil 2>/dev/null | grep -qx "Version: $absl_version"; then
    # A deb-src entry mirroring the system's deb entries (Debian 12 images have none).
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        $SUDO tee /etc/apt/sources.list.d/fabric-run-deb-src.sources >/dev/null
    else
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list |
        $SUDO tee /etc/apt/sources.list.d/fabric-run-deb-src.list >/dev/null
    fi
    $SUDO apt-get update -q
  fi
  work=$(mktemp -d)
  [[ $(id -u) -ne 0 ]] || chown _apt "$work" 2>/dev/null || true  # apt downloads as _apt
  (cd "$work" && apt-get source -q --only-source "abseil=$absl_version" >/dev/null)
  src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'abseil-*')
  [[ -n "$src" && -f "$src/absl/synchronization/mutex.cc" ]] || {
    echo "setup: apt-get source abseil=$absl_version gave no absl/synchronization/mutex.cc" >&2
    exit 1
  }
  find "$src/absl" \( -name '*.h' -o -name '*.inc' -o -name BUILD.bazel -o -name '*.bzl' \) -delete
  echo "$absl_version" >"$src/VERSION"
  $SUDO mkdir -p "$(dirname "$ABSL_SRC_DIR")"
  $SUDO rm -rf "$ABSL_SRC_DIR"
  $SUDO mv "$src" "$ABSL_SRC_DIR"
  $SUDO chmod -R a+rX "$ABSL_SRC_DIR"
  rm -rf "$work"
fi

# etcd's v3 API definitions (rpc.proto, kv.proto, auth.proto; third_party/etcd_api): from
# Debian's golang-etcd-server-dev of the etcd-server installed, downloaded (`apt-get
# download`, checked against the signed archive like any package) and unpacked into
# ETCD_API_DIR without installing its Go dependencies. VERSION holds the package version.
ETCD_API_DIR=/usr/local/src/fabric-run/etcd-api
etcd_version=$(dpkg-query -W -f='${source:Version}' etcd-server)  # arch-all package: the source's version
if [[ "$(cat "$ETCD_API_DIR/VERSION" 2>/dev/null)" != "$etcd_version" ]]; then
  echo "setup: unpacking etcd $etcd_version's API protos into $ETCD_API_DIR (apt-get download)"
  work=$(mktemp -d)
  [[ $(id -u) -ne 0 ]] || chown _apt "$work" 2>/dev/null || true
  (cd "$work" && apt-get download -q "golang-etcd-server-dev=$etcd_version" >/dev/null)
  dpkg-deb -x "$work"/golang-etcd-server-dev_*.deb "$work/x"
  api=$work/x/usr/share/gocode/src/go.etcd.io/etcd
  [[ -f $api/etcdserver/etcdserverpb/rpc.proto ]] || {
    echo "setup: golang-etcd-server-dev=$etcd_version has no etcdserver/etcdserverpb/rpc.proto" >&2
    exit 1
  }
  $SUDO rm -rf "$ETCD_API_DIR" && $SUDO mkdir -p "$ETCD_API_DIR"
  for f in etcdserver/etcdserverpb/rpc.proto mvcc/mvccpb/kv.proto auth/authpb/auth.proto \
           etcdserver/api/v3election/v3electionpb/v3election.proto; do
    $SUDO install -D -m 644 "$api/$f" "$ETCD_API_DIR/$f"
  done
  echo "$etcd_version" | $SUDO tee "$ETCD_API_DIR/VERSION" >/dev/null
  rm -rf "$work"
fi

# The Python environment. Checked by importing what we need at the versions we pin, so a
# broken or half-made .venv is repaired rather than trusted.
venv_ok() {
  [[ -x .venv/bin/python && -x .venv/bin/torchrun && -x .venv/bin/fabric ]] &&
    .venv/bin/python - "$TORCH_VERSION" "$LIGHTNING_VERSION" <<'PY' 2>/dev/null
import shutil, sys, torch, lightning, click, prometheus_client, etcd
if not shutil.which("py-spy", path=sys.prefix + "/bin"): sys.exit(1)
if not shutil.which("auditwheel", path=sys.prefix + "/bin"): sys.exit(1)
ok = torch.__version__.split("+")[0] == sys.argv[1] and lightning.__version__ == sys.argv[2]
sys.exit(0 if ok else 1)
PY
}
if ! venv_ok; then
  echo "setup: creating .venv with torch==$TORCH_VERSION and lightning==$LIGHTNING_VERSION (PyPI)"
  [[ -x .venv/bin/python ]] || /usr/bin/python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade-strategy only-if-needed \
    "torch==$TORCH_VERSION" "lightning==$LIGHTNING_VERSION" click prometheus-client py-spy auditwheel python-etcd  # click: the `fabric` CLI; prometheus-client: metrics parser check; py-spy: fabric-run stacks; auditwheel: the wheel's platform tag; python-etcd: torchrun's etcd rendezvous backends, the peer in bench/scale
  if ! venv_ok; then
    echo "setup: .venv is still not usable (torch $TORCH_VERSION, lightning $LIGHTNING_VERSION): remove .venv and run tools/setup.sh again" >&2
    exit 1
  fi
fi
