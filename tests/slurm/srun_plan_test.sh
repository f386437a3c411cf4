#!/usr/bin/env bash
# Real SLURM (network-namespace cluster of 2 nodes): srun tasks feed their SLURM_*
# variables to the derivation library (//slurm:slurm-plan), and every task must derive
# the same consistent plan: unique ranks 0..N-1, the same world, main address = first
# node, the same port; mismatches fail every task with the #SBATCH advice; sbatch and
# salloc contexts are recognised. Needs root; see doc/slurm.md.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/test_lib.sh"
LIB=$(find_runfile tests/slurm/cluster_lib.sh) || exit 1
PLAN_BIN=$(find_runfile slurm/slurm-plan) || exit 1
source "$LIB"

cluster_up 2 4
PLAN=$(cl_install "$PLAN_BIN") || exit 1
cd "$CL_DIR" || exit 1  # the tasks' working directory

# srun with a deadline on both the allocation and the whole command.
run_srun() { cl_client timeout 60 srun --immediate=20 "$@"; }

echo "== task per device: srun -N2 --ntasks-per-node=2"
out=$(run_srun -N2 --ntasks-per-node=2 "$PLAN" --check-port 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
lines=$(grep '^context=' <<<"$out")
expect_eq "task lines" 4 "$(grep -c . <<<"$lines")"
expect_eq "ranks" "0 1 2 3" "$(while read -r l; do field rank "$l"; done <<<"$lines" | sort -n | xargs)"
expect_eq "layouts" "task-per-device" "$(while read -r l; do field layout "$l"; done <<<"$lines" | sort -u | xargs)"
# The worker environment the program would be exec'd with.
expect_eq "RANK/LOCAL_RANK by host" "0:0:n1 1:1:n1 2:0:n2 3:1:n2" \
  "$(while read -r l; do echo "$(field RANK "$l"):$(field LOCAL_RANK "$l"):$(field host "$l")"; done <<<"$lines" | sort -n | xargs)"
expect_eq "world sizes" "4" "$(while read -r l; do field WORLD_SIZE "$l"; done <<<"$lines" | sort -u | xargs)"
expect_eq "local world sizes" "2" "$(while read -r l; do field LOCAL_WORLD_SIZE "$l"; done <<<"$lines" | sort -u | xargs)"
expect_eq "MASTER_ADDR" "n1" "$(while read -r l; do field MASTER_ADDR "$l"; done <<<"$lines" | sort -u | xargs)"
ports=$(while read -r l; do field MASTER_PORT "$l"; done <<<"$lines" | sort -u | xargs)
expect_eq "one MASTER_PORT for all tasks" 1 "$(wc -w <<<"$ports")"
expect_eq "port source" 4 "$(grep -c 'port_source="derived from job and step id"' <<<"$lines")"
# Ranks 0,1 on n1 (node 0) and 2,3 on n2 (node 1), local ranks 0,1 on each.
expect_eq "rank/host/node/local" "0:n1:0:0 1:n1:0:1 2:n2:1:0 3:n2:1:1" \
  "$(while read -r l; do echo "$(field rank "$l"):$(field host "$l"):$(field node_rank "$l"):$(field local_rank "$l")"; done <<<"$lines" | sort -n | xargs)"
expect_eq "only rank 0 binds the port" "0" \
  "$(while read -r l; do [[ $(field binds_main_port "$l") == 1 ]] && field rank "$l"; done <<<"$lines" | xargs)"

echo "== task per node: srun -N2 --ntasks-per-node=1, --devices 4"
out=$(run_srun -N2 --ntasks-per-node=1 "$PLAN" --devices 4 --check-port 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
lines=$(grep '^context=' <<<"$out")
expect_eq "task lines" 2 "$(grep -c . <<<"$lines")"
expect_eq "layouts" "task-per-node" "$(while read -r l; do field layout "$l"; done <<<"$lines" | sort -u | xargs)"
expect_eq "node ranks by host" "n1:0 n2:1" \
  "$(while read -r l; do echo "$(field host "$l"):$(field node_rank "$l")"; done <<<"$lines" | sort | xargs)"
expect_eq "workers per node / world" "4/8" \
  "$(while read -r l; do echo "$(field local_world_size "$l")/$(field world_size "$l")"; done <<<"$lines" | sort -u | xargs)"
expect_eq "rendezvous address" "n1" "$(while read -r l; do field main_address "$l"; done <<<"$lines" | sort -u | xargs)"
expect_eq "one rendezvous port" 1 "$(while read -r l; do field main_port "$l"; done <<<"$lines" | sort -u | wc -l)"

echo "== MASTER_PORT from the environment wins over the derived port"
out=$(cl_client env MASTER_PORT=24567 timeout 60 srun --immediate=20 -N2 --ntasks-per-node=1 "$PLAN" 2>&1)
expect_eq "ports" "24567" "$(grep '^context=' <<<"$out" | while read -r l; do field main_port "$l"; done | sort -u | xargs)"

echo "== --check-port: rank 0 finds the main port taken on n1 and says how to fix it"
# A listener inside n1's own network namespace (private: no other test can see it).
nsenter --net="/run/netns/${CL_ID}-n1" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 24568)); s.listen(); print("listening", flush=True); time.sleep(120)' \
  >"$CL_DIR/listener.out" 2>&1 &
listener=$!
deadline=$((SECONDS + 20))
until grep -q listening "$CL_DIR/listener.out" 2>/dev/null || ((SECONDS > deadline)); do sleep 0.1; done
out=$(cl_client env MASTER_PORT=24568 timeout 60 srun --immediate=20 -N2 --ntasks-per-node=1 \
  "$PLAN" --check-port 2>&1)
rc=$?
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "a taken port was not noticed"
expect_contains "port message" 'slurm-plan: main port 24568 (MASTER_PORT) is not free on n1' "$out"
expect_eq "only node 0 checked" 1 "$(grep -c 'is not free' <<<"$out")"

echo "== mismatch: --devices 4 with --ntasks-per-node=2 fails every task, naming the #SBATCH line"
out=$(run_srun -N2 --ntasks-per-node=2 "$PLAN" --devices 4 2>&1)
rc=$?
echo "$out"
[[ $rc -ne 0 ]] && pass "srun failed (rc $rc)" || fail "srun succeeded despite the mismatch"
expect_eq "tasks that printed the error" 4 \
  "$(grep -c -- '--devices 4 but this srun step runs 2 tasks on node' <<<"$out")"
expect_contains "message" 'set `#SBATCH --ntasks-per-node=4` (one task per device) or `--ntasks-per-node=1` (one task per node, fabric-run spawns the 4 workers)' "$out"
expect_eq "no task planned" 0 "$(grep -c '^context=' <<<"$out")"

echo "== mismatch: --num-nodes 3 on a 2-node step"
out=$(run_srun -N2 --ntasks-per-node=1 "$PLAN" --num-nodes 3 2>&1)
expect_contains "message" '--num-nodes 3 but this srun step runs on 2 nodes (n[1-2]): set `#SBATCH --nodes=3`' "$out"

echo "== heterogeneous tasks per node: srun -N2 -n3"
out=$(run_srun -N2 -n3 "$PLAN" 2>&1)
rc=$?
echo "$out"
expect_eq "exit status" 0 "$rc"
lines=$(grep '^context=' <<<"$out")
expect_eq "ranks" "0 1 2" "$(while read -r l; do field rank "$l"; done <<<"$lines" | sort -n | xargs)"
expect_eq "local world sizes by rank" "0:2 1:2 2:1" \
  "$(while read -r l; do echo "$(field rank "$l"):$(field LOCAL_WORLD_SIZE "$l")"; done <<<"$lines" | sort -n | xargs)"
out=$(run_srun -N2 -n3 "$PLAN" --devices 2 2>&1)
expect_contains "heterogeneous mismatch" '--devices 2 but this srun step runs 1 task on node 1 (n2) (tasks per node: 2,1)' "$out"

echo "== salloc shell: SLURM_JOB_ID but no task"
out=$(cl_client timeout 60 salloc --immediate=20 -N2 "$PLAN" 2>&1)
expect_contains "salloc context" 'context="salloc shell"' "$out"
expect_contains "salloc note" 'not an srun step: launching on this node only (the allocation has 2 nodes' "$out"
out=$(cl_client timeout 60 salloc --immediate=20 -N2 "$PLAN" --num-nodes 2 2>&1)
expect_contains "salloc --num-nodes 2" '--num-nodes 2 in the salloc shell of SLURM job' "$out"

echo "== sbatch --wait: the batch script and two srun steps in it"
cat >"$CL_DIR/job.sh" <<SCRIPT
#!/bin/sh
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
#SBATCH --output=$CL_DIR/job.out
echo "batch: \$("$PLAN")"
srun --immediate=20 "$PLAN"
srun --immediate=20 -N2 -n2 "$PLAN" --devices 2
SCRIPT
cl_client timeout 120 sbatch --wait --time=2 "$CL_DIR/job.sh"
rc=$?
expect_eq "sbatch exit status" 0 "$rc"
out=$(cat "$CL_DIR/job.out" 2>&1)
echo "$out"
expect_contains "batch script context" 'batch: context="batch script"' "$out"
expect_eq "step 0 tasks" 4 "$(grep -c 'run_id=slurm-[0-9]*\.0 ' <<<"$out")"
expect_eq "step 1 agents" 2 "$(grep -c 'layout=task-per-node .*run_id=slurm-[0-9]*\.1 ' <<<"$out")"
p0=$(grep 'run_id=slurm-[0-9]*\.0 ' <<<"$out" | while read -r l; do field main_port "$l"; done | sort -u | xargs)
p1=$(grep 'run_id=slurm-[0-9]*\.1 ' <<<"$out" | while read -r l; do field main_port "$l"; done | sort -u | xargs)
[[ -n $p0 && -n $p1 && $p0 != "$p1" && $(wc -w <<<"$p0 $p1") -eq 2 ]] &&
  pass "steps 0 and 1 derive different ports ($p0, $p1)" || fail "step ports: '$p0' vs '$p1'"

echo "== teardown leaves nothing behind"
id=$CL_ID dir=$CL_DIR pids=("${CL_PIDS[@]}")
cluster_down
[[ -z $(ip netns list | grep -- "$id") ]] && pass "namespaces removed" || fail "namespaces left: $(ip netns list | grep -- "$id")"
[[ ! -e $dir ]] && pass "temp dir removed" || fail "temp dir left: $dir"
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && fail "daemon $pid still running"; done

if ((FAILURES)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
