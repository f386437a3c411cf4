#!/usr/bin/env bash
# Fails when a Bazel dependency goes against doc/ARCHITECTURE.md's direction:
# the runtime never depends on the launcher, the rendezvous, proto or gRPC; the agent
# library (launcher/agent*) never on gRPC code; common/ and slurm/ never on launcher/,
# rendezvous/ or runtime/. Prints each forbidden dependency and the targets that reach it
# directly, and exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
check() {  # check FROM FORBIDDEN WHY
  local bad
  if ! bad=$(bazel query --noshow_progress "deps($1) intersect ($2)" 2>/dev/null); then
    echo "dependency direction: bazel query failed for $1"; rc=1; return
  fi
  if [[ -n "$bad" ]]; then
    echo "dependency direction: $1 depends on $3:"; echo "$bad" | sed 's/^/  /'
    # Where the edge crosses: the targets outside the forbidden set that depend on it directly.
    local from="deps($1)"
    echo "  through:"
    bazel query --noshow_progress "rdeps($from, $from intersect ($2), 1) except ($2)" 2>/dev/null |
      sed 's/^/    /'
    rc=1
  fi
}
check "//runtime/..." "//launcher/... + //rendezvous/... + //proto/... + @system//:grpc" "the launcher, rendezvous, proto or gRPC"
check "//launcher:agent" "//rendezvous/... + //proto/... + @system//:grpc" "gRPC code"
check "//common:worker_env + //common:placement + //slurm/..." "//launcher/... + //rendezvous/... + //runtime/..." "a higher layer"
exit $rc
