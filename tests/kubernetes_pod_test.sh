#!/usr/bin/env bash
# fabric-run inside Kubernetes pods, simulated: each pod is a network namespace
# (tests/netns_lib.sh) with the environment a training operator gives it, and its own
# /etc/hosts in which the other pods' DNS records appear late (appended after start, as
# a headless service's records appear after the pods start). No flags at all: the
# operator's variables are the whole configuration, plus FABRIC_RDZV_TOKEN (a Secret
# exposed as an environment variable: the rendezvous is reachable from other pods, so
# fabric-run requires a token). Needs root.
#
#  1. Kubeflow PyTorchJob (master + worker pod): MASTER_ADDR/MASTER_PORT, a per-pod RANK
#     and WORLD_SIZE counting processes, PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK.
#     The worker pod cannot resolve job-master-0 for 3 s: it prints a progress line and
#     joins when the record appears; workers get ranks 0-3 (the pod's RANK never leaks).
#  2. Kubeflow Trainer TrainJob (JobSet) pods: PET_MASTER_ADDR is node 0's service name
#     train-node-0-0.train, which resolves nowhere at first, not even on node 0 (it
#     recognizes itself by its host name and listens on every interface);
#     JOB_COMPLETION_INDEX is the node rank.
#  3. Elastic PyTorchJob: PET_RDZV_BACKEND=c10d, PET_RDZV_ENDPOINT=<worker-0>:29500,
#     PET_NNODES=1:2: the pod named in the endpoint hosts the rendezvous, the other joins.
#  4. SIGTERM (the kubelet deleting the pod) with a worker that ignores SIGTERM: with no
#     --grace-period the agent has SIGKILLed it and exited 143 within 25 s, inside the
#     pod's default terminationGracePeriodSeconds of 30 s.
set -u
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
RUNFILES=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-fabric_run}
FR=$RUNFILES/launcher/fabric-run
HELPER=$RUNFILES/tests/worker_helper
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 0; }
command -v ip >/dev/null || { echo "SKIP: no iproute2"; exit 0; }
source "$RUNFILES/tests/netns_lib.sh"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

PODS=(job-master-0 job-worker-0 train-node-0-0 train-node-0-1)
netns_up "${PODS[@]}" || { echo "FAIL: could not build the namespaces"; exit 1; }
DIR=$NETNS_DIR
# Each pod starts knowing only itself (the kubelet writes the pod's own name).
for p in "${PODS[@]}"; do
  printf '127.0.0.1 localhost\n%s %s\n' "$(netns_addr "$p")" "$p" >"$DIR/hosts.$p"
done
POD_ENV=(KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 PYTHONUNBUFFERED=0
         FABRIC_RDZV_TOKEN="k8s-secret-$RANDOM$RANDOM")

# check_ranks T WORLD: every rank 0..WORLD-1 printed RANK and WORLD_SIZE once, dense.
check_ranks() {
  local t=$1 world=$2 r
  for ((r = 0; r < world; r++)); do
    [[ $(cat "$DIR/$t"/*.out | grep -c "ENV $r RANK=$r$") == 1 ]] || fail "$t: rank $r missing"
    grep -qh "ENV $r WORLD_SIZE=$world$" "$DIR/$t"/*.out || fail "$t: rank $r WORLD_SIZE"
  done
  [[ $(cat "$DIR/$t"/*.out | grep -c " RANK=") == "$world" ]] || fail "$t: not $world ranks"
}

# --- 1. PyTorchJob, the master's record appears after 3 s ---------------------------
mkdir -p "$DIR/t1"
for i in 0 1; do
  pod=${PODS[$i]}
  netns_in_host "$pod" env "${POD_ENV[@]}" MASTER_ADDR=job-master-0 MASTER_PORT=23456 \
    RANK=$i WORLD_SIZE=4 PET_NNODES=2 PET_NPROC_PER_NODE=2 PET_NODE_RANK=$i \
    "$FR" "$HELPER" env >"$DIR/t1/$pod.out" 2>"$DIR/t1/$pod.err" &
  eval "P$i=\$!"
done
sleep 3
echo "$(netns_addr job-master-0) job-master-0" >>"$DIR/hosts.job-worker-0"
wait $P0; R0=$?
wait $P1; R1=$?
[[ $R0 == 0 && $R1 == 0 ]] || fail "PyTorchJob: exit $R0/$R1: $(cat "$DIR"/t1/*.err)"
check_ranks t1 4
grep -q "job-worker-0\]: ENV 2 RANK=2\|ENV 2 RANK=2" "$DIR/t1/job-worker-0.out" ||
  fail "PyTorchJob: ranks 2-3 are not on the worker pod"
grep -q "waiting for the rendezvous at job-master-0:23456: job-master-0 does not resolve" \
  "$DIR/t1/job-worker-0.err" || fail "PyTorchJob: no progress line: $(cat "$DIR/t1/job-worker-0.err")"
echo "ok 1: PyTorchJob pods, 4 ranks; worker pod waited for DNS: $(grep -m1 'waiting for' "$DIR/t1/job-worker-0.err")"

# --- 2. TrainJob: node 0's service name resolves nowhere at first -------------------
mkdir -p "$DIR/t2"
for i in 0 1; do
  pod=train-node-0-$i
  netns_in_host "$pod" env "${POD_ENV[@]}" PET_MASTER_ADDR=train-node-0-0.train \
    PET_MASTER_PORT=29400 PET_NNODES=2 PET_NPROC_PER_NODE=2 JOB_COMPLETION_INDEX=$i \
    "$FR" "$HELPER" env >"$DIR/t2/$pod.out" 2>"$DIR/t2/$pod.err" &
  eval "P$i=\$!"
done
sleep 2
echo "$(netns_addr train-node-0-0) train-node-0-0.train" >>"$DIR/hosts.train-node-0-1"
wait $P0; R0=$?
wait $P1; R1=$?
[[ $R0 == 0 && $R1 == 0 ]] || fail "TrainJob: exit $R0/$R1: $(cat "$DIR"/t2/*.err)"
check_ranks t2 4
grep -q "ENV 0 GROUP_RANK=0" "$DIR/t2/train-node-0-0.out" || fail "TrainJob: index 0 is not node 0"
grep -q "ENV 3 GROUP_RANK=1" "$DIR/t2/train-node-0-1.out" || fail "TrainJob: index 1 is not node 1"
echo "ok 2: TrainJob pods, node rank from JOB_COMPLETION_INDEX, node 0 served its unresolved name"

# --- 3. elastic PyTorchJob, c10d endpoint on a worker pod ---------------------------
mkdir -p "$DIR/t3"
for p in job-master-0 job-worker-0; do  # both know each other by now
  grep -q "$p" "$DIR/hosts.job-master-0" || echo "$(netns_addr "$p") $p" >>"$DIR/hosts.job-master-0"
done
for i in 0 1; do
  pod=${PODS[$i]}
  netns_in_host "$pod" env "${POD_ENV[@]}" FABRIC_LOG_LEVEL=info PET_RDZV_BACKEND=c10d \
    PET_RDZV_ENDPOINT=job-worker-0:29500 PET_RDZV_ID=elastic PET_NNODES=1:2 \
    PET_NPROC_PER_NODE=1 PET_MAX_RESTARTS=3 PET_RDZV_CONF=last_call_timeout=5 \
    "$FR" "$HELPER" env >"$DIR/t3/$pod.out" 2>"$DIR/t3/$pod.err" &
  eval "P$i=\$!"
done
wait $P0; R0=$?
wait $P1; R1=$?
[[ $R0 == 0 && $R1 == 0 ]] || fail "elastic: exit $R0/$R1: $(cat "$DIR"/t3/*.err)"
check_ranks t3 2
grep -q "hosting the rendezvous" "$DIR/t3/job-worker-0.err" ||
  fail "elastic: the endpoint's pod did not host: $(cat "$DIR/t3/job-worker-0.err")"
grep -q "hosting the rendezvous" "$DIR/t3/job-master-0.err" && fail "elastic: job-master-0 hosted too"
echo "ok 3: elastic PyTorchJob, job-worker-0 hosted the c10d endpoint, world of 2"

# --- 4. SIGTERM inside terminationGracePeriodSeconds --------------------------------
mkdir -p "$DIR/t4"
netns_in_host job-master-0 env "${POD_ENV[@]}" HELPER_DIR="$DIR/t4" PET_NPROC_PER_NODE=1 \
  "$FR" "$HELPER" ignore_term >"$DIR/t4/out" 2>"$DIR/t4/err" &
P0=$!
for _ in $(seq 100); do [[ -s $DIR/t4/worker_0.pid ]] && break; sleep 0.1; done
WPID=$(cat "$DIR/t4/worker_0.pid" 2>/dev/null)
[[ -n $WPID ]] || fail "SIGTERM: the worker never started: $(cat "$DIR/t4/err")"
START=$(date +%s%N)
kill -TERM $P0
wait $P0; R0=$?
MS=$(( ($(date +%s%N) - START) / 1000000 ))
[[ $R0 == 143 ]] || fail "SIGTERM: exit $R0, want 143: $(cat "$DIR/t4/err")"
(( MS < 25000 )) || fail "SIGTERM: took $MS ms, over 25 s (the pod's grace is 30 s)"
(( MS >= 19000 )) || fail "SIGTERM: took $MS ms: the worker's 20 s grace period was not given"
[[ -n $WPID ]] && kill -0 "$WPID" 2>/dev/null && fail "SIGTERM: worker $WPID still runs"
echo "ok 4: SIGTERM with a worker ignoring it: exit $R0 after $MS ms (grace 20 s < 30 s)"

if ((FAILS > 0)); then
  echo "$FAILS failure(s)"
  exit 1
fi
echo PASS
