#!/usr/bin/env bash
# A real SLURM 22.05 cluster on one machine, for tests: one network namespace per host
# (a controller "ctl" and nodes n1..nN), each with its own hostname, address and
# /etc/hosts, joined by a bridge in a private "switch" namespace; a private munged;
# slurmctld in ctl and one slurmd per node (recipe B of doc/slurm.md). Needs root.
#
#   source tests/slurm/cluster_lib.sh
#   cluster_up 2 [CPUS_PER_NODE]   # or fails, printing the daemons' logs
#   prog=$(cl_install bazel-bin/x/prog)  # copy a program where every host sees it
#   cl_client srun -N2 ... hostname  # a client command on host "ctl" (SLURM_CONF set)
#   cluster_down                     # also run by the EXIT trap cluster_up installs
# CL_EXTRA_CONF (optional): extra slurm.conf lines (the self-test breaks the config).
# CL_GPUS_PER_NODE (optional): fake GPUs per node as GRES (see cl_write_config).
#
# Isolation: names carry this shell's pid and a random tag (two runs never collide);
# only processes this file started (and processes inside its own namespaces) are
# killed; its namespaces and its temp dir are removed at the end.

export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

CL_ID=""        # unique tag of this cluster
CL_DIR=""       # scratch directory (config, state, logs, munge socket)
CL_NODES=0      # number of compute nodes
CL_NAMESPACES=()  # every namespace created, switch first
CL_PIDS=()      # daemons started (munged, slurmctld, slurmd...)
CL_SUBNET=""    # "10.X.Y": hosts are .1 (ctl), .2 (n1), ...
CL_UP=0

cl_log() { echo "[cluster $CL_ID] $*" >&2; }

# Runs "$@" in host H's namespace with H as hostname and the cluster's /etc/hosts.
# Usage: cl_in_host H command...
cl_in_host() {
  local host=$1
  shift
  nsenter --net="/run/netns/${CL_ID}-${host}" unshare --uts --mount \
    sh -c 'hostname "$0"; mount --bind "$1" /etc/hosts; shift; exec "$@"' \
    "$host" "$CL_DIR/hosts" "$@"
}

# A SLURM client command on the controller host (srun, sbatch, sinfo, scontrol...).
cl_client() {
  SLURM_CONF="$CL_DIR/slurm.conf" cl_in_host ctl "$@"
}

# Copies programs into the cluster's bin dir (visible on every host) and prints the
# path of the first. Usage: plan=$(cl_install path/to/slurm-plan [more...])
cl_install() {
  mkdir -p "$CL_DIR/bin"
  local f first=""
  for f in "$@"; do
    cp -L "$f" "$CL_DIR/bin/" || return 1
    [[ -n $first ]] || first="$CL_DIR/bin/$(basename "$f")"
  done
  echo "$first"
}

cl_dump_logs() {
  local f
  for f in "$CL_DIR"/log/*; do
    [[ -f $f ]] || continue
    echo "===== $f (last 40 lines) =====" >&2
    tail -n 40 "$f" >&2
  done
}

cl_fail() {
  cl_log "FAILED: $*"
  cl_dump_logs
  exit 1
}

cl_make_network() {
  local sw="${CL_ID}-sw" i host
  ip netns add "$sw" || return 1
  CL_NAMESPACES+=("$sw")
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  local hosts=(ctl)
  for ((i = 1; i <= CL_NODES; i++)); do hosts+=("n$i"); done
  {
    echo "127.0.0.1 localhost"
    for ((i = 0; i < ${#hosts[@]}; i++)); do echo "${CL_SUBNET}.$((i + 1)) ${hosts[i]}"; done
  } >"$CL_DIR/hosts"
  for ((i = 0; i < ${#hosts[@]}; i++)); do
    host=${hosts[i]}
    ip netns add "${CL_ID}-${host}" || return 1
    CL_NAMESPACES+=("${CL_ID}-${host}")
    ip -n "$sw" link add "p$i" type veth peer name eth0 netns "${CL_ID}-${host}" || return 1
    ip -n "$sw" link set "p$i" master br0 up
    ip -n "${CL_ID}-${host}" link set lo up
    ip -n "${CL_ID}-${host}" addr add "${CL_SUBNET}.$((i + 1))/24" dev eth0
    ip -n "${CL_ID}-${host}" link set eth0 up
  done
}

cl_write_config() {
  local cpus=$1 i
  mkdir -p "$CL_DIR/state" "$CL_DIR/spool" "$CL_DIR/log" "$CL_DIR/run"
  cat >"$CL_DIR/slurm.conf" <<CONF
ClusterName=fabric${CL_ID//[^0-9]/}
SlurmctldHost=ctl(${CL_SUBNET}.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$CL_DIR/munge/munge.socket
StateSaveLocation=$CL_DIR/state
SlurmdSpoolDir=$CL_DIR/spool/%n
SlurmctldPidFile=$CL_DIR/run/slurmctld.pid
SlurmdPidFile=$CL_DIR/run/slurmd.%n.pid
SlurmctldLogFile=$CL_DIR/log/slurmctld.log
SlurmdLogFile=$CL_DIR/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MailProg=/bin/true
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
${CL_EXTRA_CONF:-}
CONF
  local gres=""
  if ((${CL_GPUS_PER_NODE:-0} > 0)); then
    # Fake GPUs: character devices with NVIDIA's major number (nothing opens them;
    # slurmd only stats them), so SLURM sets CUDA_VISIBLE_DEVICES & co. as on a GPU node.
    mkdir -p "$CL_DIR/dev"
    for ((i = 0; i < CL_GPUS_PER_NODE; i++)); do
      mknod "$CL_DIR/dev/nvidia$i" c 195 "$i" || return 1
    done
    echo "GresTypes=gpu" >>"$CL_DIR/slurm.conf"
    echo "Name=gpu File=$CL_DIR/dev/nvidia[0-$((CL_GPUS_PER_NODE - 1))]" >"$CL_DIR/gres.conf"
    gres=" Gres=gpu:$CL_GPUS_PER_NODE"
  fi
  for ((i = 1; i <= CL_NODES; i++)); do
    echo "NodeName=n$i NodeAddr=${CL_SUBNET}.$((i + 1)) CPUs=$cpus RealMemory=1000$gres" \
      >>"$CL_DIR/slurm.conf"
  done
  echo "PartitionName=debug Nodes=n[1-$CL_NODES] Default=YES MaxTime=INFINITE State=UP" \
    >>"$CL_DIR/slurm.conf"
}

cl_start_munge() {
  mkdir -p "$CL_DIR/munge"
  chmod 755 "$CL_DIR/munge"
  mungekey --create --keyfile="$CL_DIR/munge/munge.key" >/dev/null 2>&1 ||
    cl_fail "mungekey --create failed"
  munged -F --key-file="$CL_DIR/munge/munge.key" --socket="$CL_DIR/munge/munge.socket" \
    --pid-file="$CL_DIR/munge/munged.pid" --log-file="$CL_DIR/log/munged.log" \
    --seed-file="$CL_DIR/munge/munged.seed" >>"$CL_DIR/log/munged.out" 2>&1 &
  CL_PIDS+=($!)
  local deadline=$((SECONDS + 20))
  until [[ -S $CL_DIR/munge/munge.socket ]]; do
    kill -0 "${CL_PIDS[-1]}" 2>/dev/null || cl_fail "munged exited"
    ((SECONDS < deadline)) || cl_fail "munged socket did not appear in 20 s"
    sleep 0.05
  done
}

# Starts the daemons and waits until sinfo shows every node idle.
cl_start_slurm() {
  cl_in_host ctl slurmctld -D -c -f "$CL_DIR/slurm.conf" >>"$CL_DIR/log/slurmctld.out" 2>&1 &
  CL_PIDS+=($!)
  local i
  for ((i = 1; i <= CL_NODES; i++)); do
    cl_in_host "n$i" slurmd -D -f "$CL_DIR/slurm.conf" >>"$CL_DIR/log/slurmd.n$i.out" 2>&1 &
    CL_PIDS+=($!)
  done
  local deadline=$((SECONDS + 60)) idle=""
  while true; do
    for pid in "${CL_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || cl_fail "a daemon (pid $pid) exited during start-up"
    done
    idle=$(cl_client timeout 10 sinfo -h -t idle -o %D 2>/dev/null | head -n1 | tr -d ' ')
    [[ $idle == "$CL_NODES" ]] && break
    ((SECONDS < deadline)) || cl_fail "sinfo shows '${idle}' idle nodes, not $CL_NODES, after 60 s"
    sleep 0.2
  done
}

# cluster_up NODES [CPUS_PER_NODE]: builds the network and starts the cluster.
cluster_up() {
  CL_NODES=${1:?nodes}
  local cpus=${2:-4}
  [[ $(id -u) -eq 0 ]] || { echo "cluster_lib: needs root (network namespaces)" >&2; exit 1; }
  local tag
  tag=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
  CL_ID="fr$$x$tag"
  CL_SUBNET="10.$((100 + tag % 150)).$(($$ % 250))"
  CL_DIR=$(mktemp -d "/tmp/fabric-slurm.XXXXXX")
  chmod 755 "$CL_DIR"
  trap cluster_down EXIT
  trap 'exit 130' INT TERM
  CL_UP=1
  cl_make_network || cl_fail "could not create network namespaces"
  cl_write_config "$cpus" || cl_fail "could not write the configuration"
  cl_start_munge
  local t0=$SECONDS
  cl_start_slurm
  cl_log "up: $CL_NODES nodes (subnet ${CL_SUBNET}.0/24, dir $CL_DIR) in $((SECONDS - t0))s"
}

cluster_down() {
  ((CL_UP)) || return 0
  CL_UP=0
  local pid ns i
  # Daemons we started: SIGTERM, then SIGKILL after a grace period.
  for pid in "${CL_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${CL_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${CL_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${CL_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # Whatever still runs inside our own namespaces (slurmstepd, tasks) is ours too.
  # Repeat: a dying slurmstepd may still have been starting a task.
  for ((i = 0; i < 20; i++)); do
    local left=""
    for ns in "${CL_NAMESPACES[@]}"; do left+=" $(ip netns pids "$ns" 2>/dev/null | xargs)"; done
    [[ -z ${left// /} ]] && break
    for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
    sleep 0.1
  done
  for ns in "${CL_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  [[ -n $CL_DIR && -d $CL_DIR ]] && rm -rf "$CL_DIR"
}
