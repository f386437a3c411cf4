#!/usr/bin/env bash
# The fault suite: every fault fabric-run promises to handle (doc/reliability.md), each
# against real processes, with its documented outcome, the exit status and report naming
# the true cause, and nothing left running (every pid a scenario started is checked).
# Prints a table: scenario | expected | observed | result. Needs root for the scenarios
# that build network namespaces or mount a tiny filesystem (they report SKIP otherwise).
set -u
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
RUNFILES=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-fabric_run}
FR=$RUNFILES/launcher/fabric-run
RDZV=$RUNFILES/rendezvous/fabric-rendezvous
PROXY=$RUNFILES/tests/faults/delay_proxy.py
ROOT=$(mktemp -d /tmp/fabric-faults.XXXXXX)
FAILS=0
ROWS=()
STARTED_PIDS=()

row() {  # row SCENARIO EXPECTED OBSERVED OK(0/1)
  local result=ok
  if [[ $4 != 0 ]]; then
    result=FAIL
    FAILS=$((FAILS + 1))
  fi
  ROWS+=("$(printf '%-44s | %-46s | %-58s | %s' "$1" "$2" "$3" "$result")")
  echo "[$result] $1: $3"
}

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# pids_gone DIR: every pid written to DIR/*.pid is gone (waits up to 5 s); prints survivors.
pids_gone() {
  local left="" p
  for _ in $(seq 50); do
    left=""
    for f in "$1"/*.pid; do
      [[ -e $f ]] || continue
      p=$(cat "$f")
      alive "$p" && left="$left $p"
    done
    [[ -z $left ]] && return 0
    sleep 0.1
  done
  echo "$left"
  return 1
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# wait_for FILE_GLOB COUNT: waits up to 20 s for COUNT files.
wait_for() {
  for _ in $(seq 200); do
    (( $(ls $1 2>/dev/null | wc -l) >= $2 )) && return 0
    sleep 0.1
  done
  return 1
}

cleanup() {
  for p in "${STARTED_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  declare -f netns_cleanup >/dev/null && netns_cleanup
  rm -rf "$ROOT"
}
trap cleanup EXIT

# Worker bodies (sh): each records its pid as $D/w$RANK.pid.
REC='echo $$ > "$D/w$RANK.pid"'

# --- worker faults ------------------------------------------------------------------
scenario_worker_signal() {  # NAME SIGNAL CODE
  local D=$ROOT/$1
  mkdir -p "$D"
  D=$D "$FR" --devices 2 --grace-period 2s sh -c "$REC; if [ \$RANK = 1 ]; then kill -$2 \$\$; fi; sleep 60" \
    >"$D/out" 2>"$D/err"
  local rc=$? left
  left=$(pids_gone "$D")
  local ok=1
  [[ $rc == "$3" ]] && grep -q "root cause: rank 1 .*killed by signal SIG$2" "$D/err" && [[ -z $left ]] && ok=0
  row "worker: rank 1 gets SIG$2" "exit $3, report 'rank 1 ... SIG$2'" \
    "exit $rc; $(grep -o 'root cause: rank 1[^(]*([^)]*) was killed by signal SIG[A-Z]*' "$D/err")${left:+; left:$left}" $ok
}
scenario_worker_signal sigkill KILL 137
scenario_worker_signal sigsegv SEGV 139

D=$ROOT/exit1; mkdir -p "$D"
D=$D "$FR" --devices 2 --grace-period 2s sh -c "$REC; if [ \$RANK = 1 ]; then echo boom >&2; exit 1; fi; sleep 60" \
  >"$D/out" 2>"$D/err"
rc=$?; left=$(pids_gone "$D")
ok=1; [[ $rc == 1 ]] && grep -q "root cause: rank 1 .*exit code 1" "$D/err" && grep -q "boom" "$D/err" && [[ -z $left ]] && ok=0
row "worker: rank 1 exits 1" "exit 1, report quotes its stderr" "exit $rc; $(grep -c boom "$D/err") stderr line(s) quoted${left:+; left:$left}" $ok

D=$ROOT/ignore_term; mkdir -p "$D"
D=$D "$FR" --devices 2 --grace-period 1s sh -c "trap '' TERM; $REC; while :; do sleep 0.1; done" \
  >"$D/out" 2>"$D/err" &
A=$!; STARTED_PIDS+=("$A")
wait_for "$D/w*.pid" 2
t0=$(date +%s%N); kill -TERM "$A"; wait "$A"; rc=$?; ms=$(ms_since "$t0"); left=$(pids_gone "$D")
ok=1; [[ $rc == 143 && -z $left ]] && ((ms < 5000)) && ok=0
row "worker ignores SIGTERM; agent gets SIGTERM" "exit 143, SIGKILL after --grace-period 1s" "exit $rc after ${ms} ms${left:+; left:$left}" $ok

D=$ROOT/grandchild; mkdir -p "$D"
D=$D "$FR" --devices 1 sh -c '(sleep 300 & echo $! > "$D/g1.pid"); setsid sleep 301 & echo $! > "$D/g2.pid"; sleep 0.2; exit 0' \
  >"$D/out" 2>"$D/err"
rc=$?; left=$(pids_gone "$D")
ok=1; [[ $rc == 0 && -z $left && -s $D/g1.pid && -s $D/g2.pid ]] && ok=0
row "worker leaves grandchildren (one setsid)" "exit 0, both grandchildren killed" "exit $rc${left:+; left:$left}" $ok

D=$ROOT/closed_stdout; mkdir -p "$D"
D=$D "$FR" --devices 2 sh -c 'exec 1>&-; echo still-here >&2; sleep 0.2; exit 0' >"$D/out" 2>"$D/err"
rc=$?
ok=1; [[ $rc == 0 && $(grep -c 'still-here' "$D/err") == 2 ]] && ok=0
row "worker closes its stdout" "exit 0, stderr still relayed" "exit $rc; $(grep -c still-here "$D/err")/2 stderr lines" $ok

D=$ROOT/flood; mkdir -p "$D"
# Peak RSS (ru_maxrss of the agent: the largest of the waited-for children) for 2 x N lines.
peak_kb() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    rc = subprocess.call(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
FLOOD='i=0; while [ $i -lt $N ]; do echo "r$RANK line $i ..............................................."; i=$((i+1)); done'
read -r rc_small kb_small < <(N=2000 peak_kb "$D/small" "$FR" --devices 2 sh -c "$FLOOD")
read -r rc_big kb_big < <(N=200000 peak_kb "$D/big" "$FR" --devices 2 sh -c "$FLOOD")
lines0=$(grep -cE '^\[rank 0\]: r0 line [0-9]+ \.{47}$' "$D/big")
lines1=$(grep -cE '^\[rank 1\]: r1 line [0-9]+ \.{47}$' "$D/big")
total=$(wc -l <"$D/big")
ok=1
[[ $rc_big == 0 && $lines0 == 200000 && $lines1 == 200000 && $total == 400000 ]] &&
  (( kb_big - kb_small < 8192 )) && ok=0
row "worker output flood (2 x 200k lines, 26 MB)" "every line whole; agent peak RSS flat" \
  "$lines0+$lines1 of 400000 whole; peak ${kb_small}->${kb_big} KB" $ok

# --- agent faults -------------------------------------------------------------------
D=$ROOT/agent_kill; mkdir -p "$D"
D=$D "$FR" --devices 2 sh -c "$REC; sleep 60" >"$D/out" 2>"$D/err" &
A=$!; STARTED_PIDS+=("$A")
wait_for "$D/w*.pid" 2
t0=$(date +%s%N); kill -KILL "$A"; wait "$A" 2>/dev/null
left=$(pids_gone "$D"); ms=$(ms_since "$t0")
ok=1; [[ -z $left ]] && ok=0
row "agent SIGKILLed" "its workers die (no orphans)" "workers gone after ${ms} ms${left:+; left:$left}" $ok

D=$ROOT/agent_stop; mkdir -p "$D"
D=$D "$FR" --devices 2 sh -c 'i=0; while [ $i -lt 30 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done' \
  >"$D/out" 2>"$D/err" &
A=$!; STARTED_PIDS+=("$A")
sleep 0.5; kill -STOP "$A"; sleep 3; kill -CONT "$A"; wait "$A"; rc=$?
ticks=$(grep -c 'tick' "$D/out")
ok=1; [[ $rc == 0 && $ticks == 60 ]] && ok=0
row "agent SIGSTOPped 3 s, then SIGCONT" "exit 0, no output lost" "exit $rc; $ticks/60 lines" $ok

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

D=$ROOT/host_kill; mkdir -p "$D"
P=$(free_port)
for r in 0 1; do
  D=$D "$FR" --devices 1 --num-nodes 2 --node-rank $r --main-port "$P" --keepalive-timeout 2s \
    --grace-period 1s sh -c "$REC; sleep 60" >"$D/n$r.out" 2>"$D/n$r.err" &
  eval "A$r=\$!"; STARTED_PIDS+=("$!")
done
wait_for "$D/w*.pid" 2
t0=$(date +%s%N); kill -KILL "$A0"; wait "$A0" 2>/dev/null; wait "$A1"; rc=$?; ms=$(ms_since "$t0")
left=$(pids_gone "$D")
ok=1; [[ $rc != 0 && -z $left ]] && ((ms < 10000)) && grep -qi "lost the rendezvous" "$D/n1.err" && ok=0
row "agent hosting the rendezvous SIGKILLed" "the other exits non-zero in keep-alive bounds" \
  "node 1 exit $rc after ${ms} ms: $(grep -i -m1 -o 'lost the rendezvous[^(;]*' "$D/n1.err" | head -1)${left:+; left:$left}" $ok

D=$ROOT/server_restart; mkdir -p "$D"
P=$(free_port)
"$RDZV" --port "$P" --keepalive-timeout 2s >"$D/server1.out" 2>"$D/server1.err" &
S=$!; STARTED_PIDS+=("$S")
# The server first (it prints its port once listening): an agent on the endpoint's host
# would otherwise host the rendezvous itself, as torchrun's c10d agents do.
for _ in $(seq 100); do [[ -s $D/server1.out ]] && break; sleep 0.05; done
for r in 0 1; do
  D=$D "$FR" --devices 1 --num-nodes 2 --rdzv-endpoint "127.0.0.1:$P" --keepalive-timeout 2s \
    --grace-period 1s sh -c "$REC; sleep 60" >"$D/n$r.out" 2>"$D/n$r.err" &
  eval "A$r=\$!"; STARTED_PIDS+=("$!")
done
wait_for "$D/w*.pid" 2
t0=$(date +%s%N); kill -KILL "$S"; wait "$S" 2>/dev/null
wait "$A0"; rc0=$?; wait "$A1"; rc1=$?; ms=$(ms_since "$t0")
left=$(pids_gone "$D")
rm -f "$D"/*.pid
"$RDZV" --port "$P" >"$D/server2.out" 2>"$D/server2.err" &
S=$!; STARTED_PIDS+=("$S")
for _ in $(seq 100); do [[ -s $D/server2.out ]] && break; sleep 0.05; done
for r in 0 1; do
  "$FR" --devices 1 --num-nodes 2 --rdzv-endpoint "127.0.0.1:$P" sh -c 'echo again' \
    >"$D/m$r.out" 2>"$D/m$r.err" &
  eval "B$r=\$!"; STARTED_PIDS+=("$!")
done
wait "$B0"; r0=$?; wait "$B1"; r1=$?
kill -TERM "$S"; wait "$S" 2>/dev/null
ok=1; [[ $rc0 != 0 && $rc1 != 0 && -z $left && $r0 == 0 && $r1 == 0 ]] && ((ms < 15000)) &&
  grep -q "lost the rendezvous server" "$D/n0.err" && ok=0
row "standalone server SIGKILLed, restarted" "agents fail in bounds; a new job runs on the new one" \
  "exits $rc0/$rc1 after ${ms} ms; new job $r0/$r1${left:+; left:$left}" $ok

# --- resources ----------------------------------------------------------------------
D=$ROOT/port_taken; mkdir -p "$D"
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$D/port" &
L=$!; STARTED_PIDS+=("$L")
wait_for "$D/port" 1; sleep 0.2; P=$(cat "$D/port")
D=$D "$FR" --devices 1 --num-nodes 2 --node-rank 0 --main-port "$P" --join-timeout 5s sh -c "$REC" \
  >"$D/out" 2>"$D/err"
rc=$?; kill "$L"; wait "$L" 2>/dev/null
ok=1; [[ $rc != 0 && ! -e $D/w0.pid && $(wc -l <"$D/err") == 1 ]] && grep -q "$P" "$D/err" && ok=0
row "rendezvous port already taken" "one line naming the port, no worker" "exit $rc: $(cut -c1-52 "$D/err")" $ok

D=$ROOT/restarts; mkdir -p "$D"
"$FR" --devices 1 --max-restarts 100 --grace-period 1s sh -c \
  'a=$TORCHELASTIC_RESTART_COUNT; if [ $a = 5 ] || [ $a = 100 ]; then echo "A$a fds=$(ls /proc/$PPID/fd | wc -l) $(grep -E "^(Threads|VmRSS)" /proc/$PPID/status | tr -s "\t " " " | tr "\n" " ")"; fi; [ $a -ge 100 ] || exit 1' \
  >"$D/out" 2>"$D/err"
rc=$?
s5=$(grep -o 'A5 .*' "$D/out"); s100=$(grep -o 'A100 .*' "$D/out")
fd5=$(sed -n 's/.*fds=\([0-9]*\).*/\1/p' <<<"$s5"); fd100=$(sed -n 's/.*fds=\([0-9]*\).*/\1/p' <<<"$s100")
th5=$(sed -n 's/.*Threads: \([0-9]*\).*/\1/p' <<<"$s5"); th100=$(sed -n 's/.*Threads: \([0-9]*\).*/\1/p' <<<"$s100")
rss5=$(sed -n 's/.*VmRSS: \([0-9]*\).*/\1/p' <<<"$s5"); rss100=$(sed -n 's/.*VmRSS: \([0-9]*\).*/\1/p' <<<"$s100")
ok=1
[[ $rc == 0 && -n $fd5 && $fd5 == "$fd100" && $th5 == "$th100" ]] && (( rss100 - rss5 < 1024 )) && ok=0
row "100 restart cycles" "exit 0; agent fds, threads, RSS flat" \
  "exit $rc; fds $fd5->$fd100, threads $th5->$th100, RSS ${rss5}->${rss100} KB" $ok

if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
  D=$ROOT/full_disk; mkdir -p "$D/logs"
  unshare --mount sh -c "mount -t tmpfs -o size=64k tmpfs '$D/logs' &&
    dd if=/dev/zero of='$D/logs/fill' bs=4k >/dev/null 2>&1;
    exec '$FR' --devices 2 --log-dir '$D/logs' sh -c 'i=0; while [ \$i -lt 50 ]; do echo line \$i; i=\$((i+1)); done'" \
    >"$D/out" 2>"$D/err"
  rc=$?
  warn=$(grep -c 'warning: cannot write the log file' "$D/err")
  ok=1; [[ $rc == 0 && $(grep -c 'line' "$D/out") == 100 && $warn == 1 ]] && ok=0
  row "log dir on a full 64 KB filesystem" "exit 0, output on console, one warning" \
    "exit $rc; $(grep -c line "$D/out")/100 lines; $warn warning(s)" $ok
else
  row "log dir on a full 64 KB filesystem" "exit 0, output on console, one warning" "SKIP: needs root" 0
fi

# --- network -------------------------------------------------------------------------
# A slow, lossy link to the rendezvous: 100 ms each way and 5% of chunks held 4x (a
# delaying proxy in front of a standalone server; the netns variant below uses the
# kernel's netem where the kernel has it).
D=$ROOT/slow_link; mkdir -p "$D"
P=$(free_port)
"$RDZV" --port "$P" >"$D/server.out" 2>"$D/server.err" &
S=$!; STARTED_PIDS+=("$S")
for _ in $(seq 100); do [[ -s $D/server.out ]] && break; sleep 0.05; done
python3 "$PROXY" "$P" 100 5 >"$D/proxy.port" 2>"$D/proxy.err" &
X=$!; STARTED_PIDS+=("$X")
for _ in $(seq 100); do [[ -s $D/proxy.port ]] && break; sleep 0.05; done
XP=$(cat "$D/proxy.port")
t0=$(date +%s%N)
for r in 0 1; do
  D=$D "$FR" --devices 2 --num-nodes 2 --rdzv-endpoint "127.0.0.1:$XP" --grace-period 1s \
    sh -c "$REC; echo rank \$RANK of \$WORLD_SIZE" >"$D/n$r.out" 2>"$D/n$r.err" &
  eval "A$r=\$!"; STARTED_PIDS+=("$!")
done
wait "$A0"; r0=$?; wait "$A1"; r1=$?; ms=$(ms_since "$t0")
kill "$X" "$S"; wait "$X" "$S" 2>/dev/null
ranks=$(cat "$D"/n*.out | grep -c 'of 4$')
ok=1; [[ $r0 == 0 && $r1 == 0 && $ranks == 4 ]] && ((ms >= 200)) && ok=0
row "100 ms + 5% loss to the rendezvous (proxy)" "rendezvous completes, 4 ranks" "exits $r0/$r1, $ranks/4 ranks in ${ms} ms" $ok

# --- network, in namespaces this test creates ----------------------------------------
if [[ $(id -u) == 0 ]] && command -v ip >/dev/null && command -v tc >/dev/null; then
  source "$RUNFILES/tests/netns_lib.sh"
  if netns_up f1 f2; then
    trap cleanup EXIT  # netns_up set its own: ours calls it
    export FABRIC_RDZV_TOKEN="faults-$RANDOM$RANDOM"
    D=$ROOT/netem; mkdir -p "$D"
    netem=1
    for h in f1 f2; do
      tc -n "${NETNS_ID}-$h" qdisc add dev eth0 root netem delay 100ms loss 5% 2>/dev/null || netem=0
    done
    t0=$(date +%s%N)
    for i in 1 2; do
      (netns_in_host f$i env D="$D" "$FR" --devices 2 --num-nodes 2 --node-rank $((i - 1)) \
        --main-address f1 --main-port 29411 --keepalive-timeout 10s --grace-period 1s \
        sh -c "$REC; echo rank \$RANK of \$WORLD_SIZE" >"$D/n$i.out" 2>"$D/n$i.err") &
      eval "A$i=\$!"
    done
    wait "$A1"; r1=$?; wait "$A2"; r2=$?; ms=$(ms_since "$t0")
    ranks=$(cat "$D"/n*.out | grep -c 'of 4$')
    if ((netem)); then
      ok=1; [[ $r1 == 0 && $r2 == 0 && $ranks == 4 ]] && ((ms >= 200)) && ok=0
      row "100 ms delay + 5% loss on every link (netem)" "rendezvous completes, 4 ranks" "exits $r1/$r2, $ranks/4 ranks in ${ms} ms" $ok
    else
      row "100 ms delay + 5% loss on every link (netem)" "rendezvous completes, 4 ranks" "SKIP: this kernel has no netem qdisc (the proxy row covers it)" 0
    fi
    for h in f1 f2; do tc -n "${NETNS_ID}-$h" qdisc del dev eth0 root 2>/dev/null; done

    D=$ROOT/cut; mkdir -p "$D"
    for i in 1 2; do
      (netns_in_host f$i env D="$D" "$FR" --devices 1 --num-nodes 2 --node-rank $((i - 1)) \
        --main-address f1 --main-port 29412 --keepalive-timeout 2s --grace-period 1s \
        sh -c "$REC; sleep 60" >"$D/n$i.out" 2>"$D/n$i.err") &
      eval "A$i=\$!"
    done
    wait_for "$D/w*.pid" 2
    t0=$(date +%s%N)
    ip -n "${NETNS_ID}-f2" link set eth0 down; sleep 4; ip -n "${NETNS_ID}-f2" link set eth0 up
    wait "$A1"; r1=$?; wait "$A2"; r2=$?; ms=$(ms_since "$t0")
    left=$(pids_gone "$D")
    ok=1; [[ $r1 != 0 && $r2 != 0 && -z $left ]] && ((ms < 20000)) && grep -q "lost" "$D/n1.err" && ok=0
    row "host cut off 4 s mid-run, then back" "both agents fail in bounds, node 1 'lost'" \
      "exits $r1/$r2 after ${ms} ms${left:+; left:$left}" $ok
    unset FABRIC_RDZV_TOKEN
  else
    row "network scenarios" "namespaces" "could not build the namespaces" 1
  fi
else
  row "network scenarios (delay/loss, host cut off)" "-" "SKIP: needs root, ip, tc" 0
fi

echo
printf '%-44s | %-46s | %-58s | %s\n' scenario expected observed result
for r in "${ROWS[@]}"; do echo "$r"; done
if ((FAILS > 0)); then
  echo "$FAILS scenario(s) failed"
  exit 1
fi
echo PASS
