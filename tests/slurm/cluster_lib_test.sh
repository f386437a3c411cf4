#!/usr/bin/env bash
# The harness itself (tests/slurm/cluster_lib.sh): a cluster whose daemons cannot start
# fails loudly with their logs (no silent skip), and teardown leaves no process,
# namespace or temp dir behind, even with a task still running in the cluster.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
LIB=$(find_runfile tests/slurm/cluster_lib.sh) || exit 1

echo "== a broken slurm.conf: cluster_up fails and prints the daemon logs"
out=$(CL_EXTRA_CONF="SelectType=select/does_not_exist" bash -c "source '$LIB'; cluster_up 1; echo UNREACHABLE" 2>&1)
rc=$?
echo "$out" | tail -n 15
[[ $rc -ne 0 ]] && pass "cluster_up failed (rc $rc)" || fail "cluster_up succeeded with a broken config"
expect_contains "failure line" "FAILED:" "$out"
expect_contains "slurmctld log shown" "slurmctld.log (last 40 lines)" "$out"
expect_contains "the cause" "select/does_not_exist" "$out"
[[ $out != *UNREACHABLE* ]] && pass "nothing ran after the failure" || fail "the script went on"
id=$(sed -n 's/^\[cluster \([^]]*\)\].*/\1/p' <<<"$out" | head -n1)
[[ -n $id ]] && pass "cluster id $id" || fail "no cluster id in the output"
[[ -z $(ip netns list | grep -- "$id") ]] && pass "its namespaces are gone" || fail "namespaces left"
dir=$(sed -n 's/^===== \(.*\)\/log\/.*/\1/p' <<<"$out" | head -n1)
[[ -n $dir && ! -e $dir ]] && pass "its temp dir $dir is gone" || fail "temp dir '$dir' left"

echo "== teardown with a task still running"
source "$LIB"
cluster_up 1 2
cd "$CL_DIR" || exit 1
pidfile="$CL_DIR/task.pid"
# A task that would run for 5 minutes; it records its pid (host pid namespace).
cl_client timeout 120 srun --immediate=20 -N1 -n1 sh -c "echo \$\$ > $pidfile; exec sleep 300" \
  >/dev/null 2>&1 &
srun_pid=$!
deadline=$((SECONDS + 30))
until [[ -s $pidfile ]] || ((SECONDS > deadline)); do sleep 0.1; done
task=$(cat "$pidfile" 2>/dev/null)
[[ -n $task ]] && kill -0 "$task" 2>/dev/null && pass "task $task runs" || fail "task did not start"
id=$CL_ID dir=$CL_DIR daemons=("${CL_PIDS[@]}")
cluster_down
wait "$srun_pid" 2>/dev/null
# Killed processes are reaped by their new parent: allow it a moment.
deadline=$((SECONDS + 10))
while [[ -n $task ]] && kill -0 "$task" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
[[ -n $task ]] && ! kill -0 "$task" 2>/dev/null && pass "task killed" ||
  fail "task $task still runs: $(ps -o pid,ppid,stat,cmd -p "$task" | tail -n1)"
for pid in "${daemons[@]}"; do kill -0 "$pid" 2>/dev/null && fail "daemon $pid still runs"; done
pass "daemons stopped"
[[ -z $(ip netns list | grep -- "$id") ]] && pass "namespaces removed" || fail "namespaces left"
[[ ! -e $dir ]] && pass "temp dir removed" || fail "temp dir left: $dir"

if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
