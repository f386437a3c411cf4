#!/usr/bin/env bash
# Hosts as network namespaces, for tests that need several machines (needs root, runs
# outside Bazel's sandbox). Each host has its own hostname, an address in a private /24
# that exists only in these namespaces, and its own view of /etc/hosts; a bridge in a
# private "switch" namespace joins them (the recipe of tests/slurm/cluster_lib.sh).
#
#   source tests/netns_lib.sh
#   netns_up n1 n2 n3               # host i (1-based) gets $NETNS_SUBNET.i
#   netns_in_host n1 prog args &    # exec in n1 (so $! is prog's pid)
#   netns_addr n2                   # prints n2's address
#
# /etc/hosts inside host H is $NETNS_DIR/hosts.H when that file exists, else
# $NETNS_DIR/hosts (every host's name). It is bind-mounted: appending to it later (>>,
# same inode) makes a name resolve from then on, as a Kubernetes DNS record appears
# after the pod starts.
#
# Isolation: names carry this shell's pid and a random tag; the EXIT trap netns_up sets
# kills what runs in these namespaces (only there) and deletes them and $NETNS_DIR.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

NETNS_ID="ns$$$(printf %04x $((RANDOM)))"
NETNS_DIR=""
NETNS_SUBNET="10.$((100 + $$ % 100)).$(( ($$ / 100) % 250 + 1))"
NETNS_HOSTS=()
NETNS_CREATED=()

netns_cleanup() {
  local ns pid
  for ns in "${NETNS_CREATED[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  sleep 0.2
  for ns in "${NETNS_CREATED[@]}"; do ip netns del "$ns" 2>/dev/null; done
  [[ -n $NETNS_DIR ]] && rm -rf "$NETNS_DIR"
}

netns_addr() {
  local i
  for i in "${!NETNS_HOSTS[@]}"; do
    [[ ${NETNS_HOSTS[$i]} == "$1" ]] && { echo "$NETNS_SUBNET.$((i + 1))"; return 0; }
  done
  return 1
}

netns_in_host() {
  local host=$1 hosts="$NETNS_DIR/hosts"
  shift
  [[ -e $NETNS_DIR/hosts.$host ]] && hosts="$NETNS_DIR/hosts.$host"
  exec nsenter --net="/run/netns/${NETNS_ID}-${host}" unshare --uts --mount \
    sh -c 'hostname "$0"; mount --bind "$1" /etc/hosts; shift; exec "$@"' \
    "$host" "$hosts" "$@"
}

netns_up() {
  NETNS_DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/netns.XXXXXX") || return 1
  trap netns_cleanup EXIT
  trap 'exit 1' TERM INT
  NETNS_HOSTS=("$@")
  local sw="${NETNS_ID}-sw" i host ns
  ip netns add "$sw" && NETNS_CREATED+=("$sw") || return 1
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  echo "127.0.0.1 localhost" >"$NETNS_DIR/hosts"
  for i in "${!NETNS_HOSTS[@]}"; do
    host=${NETNS_HOSTS[$i]}
    ns="${NETNS_ID}-${host}"
    echo "$NETNS_SUBNET.$((i + 1)) $host" >>"$NETNS_DIR/hosts"
    ip netns add "$ns" && NETNS_CREATED+=("$ns") || return 1
    ip -n "$sw" link add "p$((i + 1))" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$sw" link set "p$((i + 1))" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$NETNS_SUBNET.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}
