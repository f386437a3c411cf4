#!/usr/bin/env bash
# Multi-host fabric-run in network namespaces this test creates (tests/netns_lib.sh):
# hosts n1..n3, each with its own hostname, address and /etc/hosts. Needs root.
#
#  1. 2 hosts x 2 workers, embedded rendezvous on n1 (--main-address n1): ranks,
#     GROUP_RANK, WORLD_SIZE=4 and MASTER_ADDR/PORT agree; the rendezvous listens on
#     n1's address only (not the wildcard).
#  2. An unmodified PyTorch all-reduce (Gloo over the namespaces' network), 2 hosts.
#  3. Elastic 2:3 on 3 hosts: n3's link goes down mid-run; the others detect it
#     within the keep-alive timeout and finish with a world of 4.
#  4. Mutual TLS across hosts with a CA made here, no token.
#  0. Auth off loopback: with no token (and no SLURM), both agents refuse before
#     starting anything, in one line naming the fixes; an agent of another host with
#     no token cannot join a job that has one. Jobs 1-2 use a token (environment,
#     file), job 3 --rdzv-insecure.
set -u
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
RUNFILES=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-fabric_run}
FR=$RUNFILES/launcher/fabric-run
HELPER=$RUNFILES/tests/worker_helper
PY=$RUNFILES/tests/python/allreduce.py
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 0; }
command -v ip >/dev/null || { echo "SKIP: no iproute2"; exit 0; }

source "$RUNFILES/tests/netns_lib.sh"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
in_host() { netns_in_host "$@"; }

netns_up n1 n2 n3 || { echo "FAIL: could not build the namespaces"; exit 1; }
ID=$NETNS_ID
DIR=$NETNS_DIR
SUBNET=$NETNS_SUBNET

# --- 0. no token off loopback: refused, nothing started -----------------------------
mkdir -p "$DIR/t0"
for i in 1 2; do
  in_host n$i env -u FABRIC_RDZV_TOKEN HELPER_DIR="$DIR/t0" "$FR" --devices 1 --num-nodes 2 \
    --node-rank $((i - 1)) --main-address n1 --main-port 29409 "$HELPER" env \
    >"$DIR/t0/n$i.out" 2>"$DIR/t0/n$i.err" &
  eval "P$i=\$!"
done
wait $P1; R1=$?
wait $P2; R2=$?
[[ $R1 == 2 && $R2 == 2 ]] || fail "no token off loopback: exit $R1/$R2, want 2/2"
for i in 1 2; do
  [[ $(wc -l <"$DIR/t0/n$i.err") == 1 ]] || fail "n$i: want one line: $(cat "$DIR/t0/n$i.err")"
  grep -q "rendezvous at n1:29409 is reachable from other machines.*--rdzv-token-file.*--rdzv-insecure" \
    "$DIR/t0/n$i.err" || fail "n$i's refusal: $(cat "$DIR/t0/n$i.err")"
done
[[ -z $(cat "$DIR"/t0/*.out) ]] || fail "a worker ran: $(cat "$DIR"/t0/*.out)"
echo "ok 0: no token off loopback refused: $(cat "$DIR/t0/n1.err")"

export FABRIC_RDZV_TOKEN="netns-$RANDOM$RANDOM"  # jobs 1 and 1b: every agent, from the environment

# --- 1. two hosts, env and bind address -------------------------------------------
mkdir -p "$DIR/t1"
in_host n1 env HELPER_DIR="$DIR/t1" "$FR" --devices 2 --num-nodes 2 --node-rank 0 \
  --main-address n1 --grace-period 2s "$HELPER" env >"$DIR/t1/n1.out" 2>"$DIR/t1/n1.err" &
P1=$!
in_host n2 env HELPER_DIR="$DIR/t1" "$FR" --devices 2 --num-nodes 2 --node-rank 1 \
  --main-address n1 --grace-period 2s "$HELPER" env >"$DIR/t1/n2.out" 2>"$DIR/t1/n2.err" &
P2=$!
wait $P1; R1=$?
wait $P2; R2=$?
[[ $R1 == 0 && $R2 == 0 ]] || fail "two hosts: exit $R1/$R2: $(cat "$DIR"/t1/*.err)"
for r in 0 1 2 3; do
  f="$DIR/t1/n$((r / 2 + 1)).out"
  grep -q "^\[node $((r / 2)) rank $r\]: ENV $r RANK=$r$" "$f" || fail "rank $r not on n$((r / 2 + 1))"
  grep -q "ENV $r WORLD_SIZE=4$" "$f" || fail "rank $r WORLD_SIZE"
  grep -q "ENV $r GROUP_RANK=$((r / 2))$" "$f" || fail "rank $r GROUP_RANK"
done
ADDRS=$(grep -h "MASTER_ADDR=" "$DIR"/t1/*.out | sed 's/.*MASTER_ADDR=//' | sort -u)
PORTS=$(grep -h "MASTER_PORT=" "$DIR"/t1/*.out | sed 's/.*MASTER_PORT=//' | sort -u)
[[ $(echo "$ADDRS" | wc -l) == 1 && ( $ADDRS == n1 || $ADDRS == "$SUBNET.1" ) ]] ||
  fail "MASTER_ADDR not one n1 address: $ADDRS"
[[ $(echo "$PORTS" | wc -l) == 1 && $PORTS != 29400 ]] || fail "MASTER_PORT: $PORTS"
echo "ok 1: two hosts, 4 ranks, MASTER_ADDR=$ADDRS MASTER_PORT=$PORTS"

# The embedded rendezvous binds n1's address, not every interface.
mkdir -p "$DIR/t1b"
in_host n1 env HELPER_DIR="$DIR/t1b" "$FR" --devices 1 --num-nodes 2 --node-rank 0 \
  --main-address n1 --grace-period 1s --join-timeout 60s "$HELPER" sleep \
  >/dev/null 2>"$DIR/t1b/err" &
P1=$!
LISTEN=""
for _ in $(seq 100); do
  LISTEN=$(ip netns exec "${ID}-n1" ss -Hltn "sport = :29400" 2>/dev/null | awk '{print $4}')
  [[ -n $LISTEN ]] && break
  sleep 0.1
done
# gRPC may use a dual-stack socket: the v4-mapped form is the same single address.
[[ $LISTEN == "$SUBNET.1:29400" || $LISTEN == "[::ffff:$SUBNET.1]:29400" ]] ||
  fail "rendezvous listens on '$LISTEN', want $SUBNET.1:29400 (not a wildcard)"
# An agent of another host without the token (insecure on its side) cannot get in.
(in_host n3 env -u FABRIC_RDZV_TOKEN HELPER_DIR="$DIR/t1b" "$FR" --devices 1 --num-nodes 2 \
  --node-rank 1 --main-address n1 --rdzv-insecure --join-timeout 20s "$HELPER" env \
  >"$DIR/t1b/intruder.out" 2>"$DIR/t1b/intruder.err")
RI=$?
[[ $RI != 0 ]] || fail "an agent without the token joined"
grep -q "requires a token" "$DIR/t1b/intruder.err" || fail "intruder: $(cat "$DIR/t1b/intruder.err")"
[[ ! -s "$DIR/t1b/intruder.out" ]] || fail "the intruder ran a worker: $(cat "$DIR/t1b/intruder.out")"
kill -TERM $P1; wait $P1
R1=$?
[[ $R1 == 143 ]] || fail "SIGTERM to the joining agent: exit $R1, want 143"
echo "ok 1b: rendezvous bound to $LISTEN; an agent without the token was refused (exit $RI)"
unset FABRIC_RDZV_TOKEN
echo "netns-file-token" >"$DIR/token"

# --- 2. PyTorch all-reduce across two hosts --------------------------------------
PYTHON=${FABRIC_VENV_PYTHON:-}
[[ -n $PYTHON && -x $PYTHON ]] || fail "FABRIC_VENV_PYTHON='$PYTHON' is not an interpreter: run tools/setup.sh"
{
  mkdir -p "$DIR/t2"
  for i in 1 2; do
    in_host n$i "$FR" --devices 2 --num-nodes 2 --node-rank $((i - 1)) --main-address n1 --main-port 29402 \
      --rdzv-token-file "$DIR/token" --python "$PYTHON" "$PY" >"$DIR/t2/n$i.out" 2>"$DIR/t2/n$i.err" &
    eval "P$i=\$!"
  done
  wait $P1; R1=$?
  wait $P2; R2=$?
  [[ $R1 == 0 && $R2 == 0 ]] || fail "pytorch: exit $R1/$R2: $(cat "$DIR"/t2/*.err)"
  for r in 0 1 2 3; do
    grep -q "rank $r/4 local_rank $((r % 2)) sum 6" "$DIR/t2/n$((r / 2 + 1)).out" ||
      fail "pytorch rank $r: $(cat "$DIR/t2/n$((r / 2 + 1)).out")"
  done
  echo "ok 2: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') Gloo all-reduce across two hosts"
}

# --- 3. elastic 2:3, a host cut off -----------------------------------------------
mkdir -p "$DIR/t3"
for i in 1 2 3; do
  in_host n$i env HELPER_DIR="$DIR/t3" "$FR" --devices 2 --num-nodes 2:3 \
    --main-address n1 --main-port 29401 --keepalive-timeout 2s --last-call-timeout 5s --rdzv-insecure \
    --grace-period 2s "$HELPER" world_is 4 >"$DIR/t3/n$i.out" 2>"$DIR/t3/n$i.err" &
  eval "P$i=\$!"
  sleep 0.2  # n1 first: it hosts the rendezvous (it binds n1's address)
done
for _ in $(seq 300); do
  [[ $(cat "$DIR"/t3/*.out | grep -c "world [0-9] 6 ") == 6 ]] && break
  sleep 0.1
done
[[ $(cat "$DIR"/t3/*.out | grep -c "world [0-9] 6 ") == 6 ]] || fail "3 hosts did not form a world of 6"
START=$(date +%s)
ip -n "${ID}-n3" link set eth0 down
wait $P1; R1=$?
wait $P2; R2=$?
END=$(date +%s)
[[ $R1 == 0 && $R2 == 0 ]] || fail "elastic: exit $R1/$R2: $(cat "$DIR"/t3/n1.err "$DIR"/t3/n2.err)"
grep -q "lost" "$DIR/t3/n1.err" || fail "n1 did not report the lost node: $(cat "$DIR/t3/n1.err")"
(( END - START < 60 )) || fail "took $((END - START)) s to go on without n3"
kill -KILL $P3 2>/dev/null; wait $P3 2>/dev/null
echo "ok 3: elastic job went on without n3 after $((END - START)) s"

# --- 4. mutual TLS across hosts, no token -------------------------------------------
# A CA made here; n1's certificate names n1 (what the agents dial). The client
# certificates authenticate: no token needed off loopback.
mkdir -p "$DIR/t4" && cd "$DIR/t4" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.crt -days 1 -subj /CN=netns-ca 2>/dev/null
for n in n1 n2; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -out $n.csr \
    -subj /CN=$n 2>/dev/null
  echo "subjectAltName=DNS:$n" >$n.ext
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 1 \
    -extfile $n.ext 2>/dev/null
done
cd - >/dev/null || exit 1
for i in 1 2; do
  in_host n$i env HELPER_DIR="$DIR/t4" FABRIC_LOG_LEVEL=info "$FR" --devices 1 --num-nodes 2 \
    --node-rank $((i - 1)) --main-address n1 --main-port 29404 --rdzv-tls-ca "$DIR/t4/ca.crt" \
    --rdzv-tls-cert "$DIR/t4/n$i.crt" --rdzv-tls-key "$DIR/t4/n$i.key" --rdzv-tls-client-auth \
    "$HELPER" env >"$DIR/t4/n$i.out" 2>"$DIR/t4/n$i.err" &
  eval "P$i=\$!"
done
wait $P1; R1=$?
wait $P2; R2=$?
[[ $R1 == 0 && $R2 == 0 ]] || fail "mutual TLS: exit $R1/$R2: $(cat "$DIR"/t4/n*.err)"
grep -q "hosting the rendezvous on n1:29404 (run .*, auth mutual-tls, TLS)" "$DIR/t4/n1.err" ||
  fail "mutual TLS: n1 did not host with mutual-tls: $(cat "$DIR/t4/n1.err")"
[[ $(cat "$DIR"/t4/n*.out | grep -c ' WORLD_SIZE=2$') == 2 ]] || fail "mutual TLS: not 2 ranks"
echo "ok 4: mutual TLS across two hosts, no token"

if ((FAILS > 0)); then
  echo "$FAILS failure(s)"
  exit 1
fi
echo PASS
