#!/usr/bin/env bash
# The action of packaging/defs.bzl's cmake_package (its arguments are that rule's contract):
#   make_package.sh OUT AR CONFIG CONFIG_VERSION
#                   N ARCHIVE... M HEADER_PATH... HEADER_DEST... LINK_FLAG...
# Writes the tar OUT: lib/libfabric_runtime.a (the N archives merged), lib/libfabric_absl.a
# (the abseil archives the link flags name, merged), include/ (the M headers at their
# workspace paths, and /usr/include/absl), lib/cmake/FabricRuntime/. Fails on a link flag
# naming a static library other than abseil's: the package would not carry it.
set -euo pipefail
out=$1 ar=$2 config=$3 config_version=$4
shift 4
n=$1
shift
archives=("${@:1:n}")
shift "$n"
m=$1
shift
headers=("${@:1:m}")
shift "$m"
dests=("${@:1:m}")
shift "$m"
flags=("$@")

stage=$(mktemp -d "$(dirname "$out")/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib/cmake/FabricRuntime" "$stage/include"

# merge OUT ARCHIVE...: one archive holding every member of the others (duplicate member
# names kept, as ld resolves them: by the symbol table).
merge() {
  local dest=$1
  shift
  {
    echo "CREATE $dest"
    for a in "$@"; do echo "ADDLIB $a"; done
    echo "SAVE"
    echo "END"
  } | "$ar" -M
  "$ar" s "$dest"
}
merge "$stage/lib/libfabric_runtime.a" "${archives[@]}"

libdirs=(/usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib)
absl=()
system=()
for f in "${flags[@]}"; do
  name=""
  case $f in
    -l:lib*.a) name=${f#-l:lib}; name=${name%.a} ;;
    -l*) name=${f#-l} ;;
    *) continue ;;
  esac
  case $name in
    absl_*)
      found=""
      for d in "${libdirs[@]}"; do
        [[ -f $d/lib$name.a ]] && { found=$d/lib$name.a; break; }
      done
      [[ -n $found ]] || { echo "make_package: lib$name.a not found in ${libdirs[*]}" >&2; exit 1; }
      [[ " ${absl[*]} " == *" $found "* ]] || absl+=("$found")
      ;;
    torch | torch_cpu | torch_cuda | c10 | c10_cuda) ;;  # the user's find_package(Torch)
    *)
      if [[ $f == -l:* ]]; then
        echo "make_package: $f: a static library the package does not carry" >&2
        exit 1
      fi
      [[ " ${system[*]} " == *" $name "* ]] || system+=("$name")
      ;;
  esac
done
((${#absl[@]})) || { echo "make_package: no abseil archive among the link flags" >&2; exit 1; }
merge "$stage/lib/libfabric_absl.a" "${absl[@]}"

for i in "${!headers[@]}"; do
  mkdir -p "$stage/include/$(dirname "${dests[$i]}")"
  cp "${headers[$i]}" "$stage/include/${dests[$i]}"
done
cp -r /usr/include/absl "$stage/include/absl"

sys_libs=$(IFS=';'; echo "${system[*]}")
sed "s|@SYSTEM_LIBS@|$sys_libs|g" "$config" >"$stage/lib/cmake/FabricRuntime/FabricRuntimeConfig.cmake"
cp "$config_version" "$stage/lib/cmake/FabricRuntime/FabricRuntimeConfigVersion.cmake"
find "$stage" -type d -exec chmod 755 {} +
find "$stage" -type f -exec chmod 644 {} +

# No file may name a directory of this build: the execroot, the output base (external
# repositories such as @torch live there) or the checkout (.venv's torch is inside it).
checkout=$(readlink -f "${headers[0]}")
checkout=${checkout%/"${dests[0]}"}
for root in "$PWD" "$(cd ../.. && pwd)" "$checkout"; do
  if grep -rlF "$root" "$stage" >/dev/null; then
    echo "make_package: a file names the build's directory $root:" >&2
    grep -rlF "$root" "$stage" >&2
    exit 1
  fi
done
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$stage" -cf "$out" lib include
