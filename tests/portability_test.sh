#!/usr/bin/env bash
# fabric-run and fabric-rendezvous are copied to other machines as is (the wheel; the GPU bundle carries them to
# a GPU machine): it must need only libc and libm, and no glibc symbol newer than 2.35
# (Ubuntu 22.04, RHEL 9 run 2.34/2.35), whatever glibc built it.
set -uo pipefail
fail=0
for rel in launcher/fabric-run rendezvous/fabric-rendezvous; do
  bin=""
  for p in "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-fabric_run}/$rel" "$(dirname "$0")/../bazel-bin/$rel"; do
    [[ -x $p ]] && { bin=$p; break; }
  done
  [[ -n $bin ]] || { echo "FAIL: $rel not found"; exit 1; }
  needed=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | xargs)
  newest=$(objdump -T "$bin" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n1)
  echo "$rel: needs [$needed], newest symbol version $newest"
  for lib in $needed; do
    case $lib in
      libc.so.6 | libm.so.6 | ld-linux-x86-64.so.2) ;;
      *) echo "FAIL: $rel needs $lib"; fail=1 ;;
    esac
  done
  if [[ $(printf '%s\n' "$newest" GLIBC_2.35 | sort -V | tail -n1) != GLIBC_2.35 ]]; then
    echo "FAIL: $rel needs $newest: $(objdump -T "$bin" | grep "$newest" | awk '{print $NF}' | xargs)"
    fail=1
  fi
done
((fail == 0)) && echo "PASS"
exit $fail
