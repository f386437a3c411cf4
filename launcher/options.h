// LaunchOptions: everything `fabric-run` was asked to do, after parsing and
// validation (see cli.h). A plain value type: no I/O.
#ifndef FABRIC_LAUNCHER_OPTIONS_H_
#define FABRIC_LAUNCHER_OPTIONS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace fabric::launcher {

// Which worker output reaches the console (all ranks always reach their log files).
struct ConsoleFilter {
  bool all = true;         // every rank
  std::vector<int> ranks;  // when !all: only these global ranks
  bool quiet = false;      // no worker output on the console at all
  // torchrun's --local-ranks-filter / --redirects: when set, only these local ranks
  // (on every node) reach the console, in addition to the filters above.
  std::optional<std::vector<int>> local_ranks;
};

struct LaunchOptions {
  // Lightning `fabric run` flags.
  std::string accelerator = "cpu";  // cpu | cuda | gpu | auto (resolved: cpu or cuda)
  // Given by the user (flag or FABRIC_ACCELERATOR), or implied by a GPU id list: only
  // then is LT_ACCELERATOR exported (Lightning's `fabric run` rule).
  bool accelerator_set = false;
  std::string strategy;            // LT_STRATEGY; empty: not given, not exported
  std::string devices_spec = "1";  // as given: N, auto, or a list such as "0,2"
  int devices = 1;                 // workers per node (resolved)
  // The "given" bits: true when the user set the value (flag or FABRIC_ variable), so
  // that SLURM's values may fill in the rest (launcher/slurm_launch.h). --devices auto
  // and --num-nodes MIN:MAX with MIN != MAX count as not given.
  bool devices_set = false;
  bool num_nodes_set = false;
  bool main_address_set = false;
  bool run_id_set = false;
  std::optional<std::vector<int>> device_ids;  // set when devices_spec was a list
  int min_nodes = 1;                           // --num-nodes N or MIN:MAX
  int max_nodes = 1;
  std::optional<int> node_rank;  // --node-rank (unset: assigned by rendezvous)
  std::string main_address = "127.0.0.1";
  int main_port = 29400;  // rendezvous port (the workers' MASTER_PORT is chosen)
  bool main_port_set = false;
  std::string precision;  // LT_PRECISION; empty: not given, not exported

  // torchrun-style operational flags.
  int max_restarts = 0;
  std::string run_id;                               // empty: generated
  absl::Duration grace_period = absl::Seconds(30);  // SIGTERM -> SIGKILL
  std::string log_dir;                              // empty: no per-rank files
  std::string events_file;                          // --events: the event log (empty: none)
  std::optional<int> metrics_port;  // --metrics-port: Prometheus /metrics (0: any free port)
  ConsoleFilter console;
  std::string python = "python3";  // looked up in PATH, as `#!/usr/bin/env python3`
  // torchrun's spellings (launcher/torchrun_flags.h).
  std::string role = "default";     // --role: ROLE_NAME
  bool python_module = false;       // -m/--module: python -m PROGRAM
  bool no_python = false;           // --no-python: exec PROGRAM even if it ends in .py
  bool virtual_local_rank = false;  // --virtual-local-rank: LOCAL_RANK=0, one GPU each
  // --preload MODULES: a per-node zygote imports these once and forks every Python
  // worker of every attempt (launcher/zygote_process_launcher.h); empty: off.
  std::vector<std::string> preload;
  // --numa-binding: node, socket, exclusive or core-complex (launcher/numa_binding.h),
  // resolved against this machine by the agent before it starts anything; empty: off.
  std::string numa_binding;
  // --signals-to-handle, as the workers' TORCHELASTIC_SIGNALS_TO_HANDLE.
  std::string signals_to_handle = "SIGTERM,SIGINT,SIGHUP,SIGQUIT";
  // --dry-run: print the plan (settings, where each came from, the workers' environment)
  // and exit 0, starting nothing.
  bool dry_run = false;
  // Where each given setting came from: flag name -> "--devices", "FABRIC_DEVICES",
  // "PET_NPROC_PER_NODE" (settings not listed are defaults).
  std::map<std::string, std::string> sources;
  bool standalone = false;
  std::string rdzv_endpoint;  // HOST:PORT of a standalone rendezvous, empty: embedded
  // --rdzv-backend etcd (also etcd-v2, etcd-v3): the control plane on an etcd cluster
  // (launcher/etcd_coordinator.h); --rdzv-endpoint lists its members (HOST:PORT each,
  // 2379 by default), also joined with commas in rdzv_endpoint.
  bool rdzv_etcd = false;
  std::vector<std::string> etcd_endpoints;
  // --rdzv-grace: with etcd unreachable (no quorum), the workers keep running this long;
  // then every agent stops them and exits with one line.
  absl::Duration rdzv_grace = absl::Seconds(60);
  // --requeue-on-signal USR1|USR2 (0: off): on this signal the agent forwards it, gives
  // the workers the grace period to exit, stops them, runs `scontrol requeue
  // $SLURM_JOB_ID` and exits 0 (see doc/slurm.md).
  int requeue_signal = 0;
  std::string rdzv_token;       // shared secret of the rendezvous (empty: no auth)
  std::string rdzv_token_file;  // a file holding it (read by the multi-node agent)
  // --rdzv-insecure: serve or join a rendezvous reachable from other machines with no
  // authentication (launcher/rdzv_auth.h).
  bool rdzv_insecure = false;
  // TLS to the rendezvous (rendezvous/tls.h): the CA every agent verifies the server
  // with; this agent's certificate and key (served when it hosts, presented as a client
  // certificate otherwise); client certificates required (mutual TLS authenticates).
  std::string rdzv_tls_ca;
  std::string rdzv_tls_cert;
  std::string rdzv_tls_key;
  bool rdzv_tls_client_auth = false;
  // Started under the name torchrun (cli.h Personality::kTorchrun).
  bool torchrun = false;
  absl::Duration join_timeout = absl::Seconds(600);
  absl::Duration last_call_timeout = absl::Seconds(1);
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // --hang-timeout: a worker whose heartbeat stops this long is hung (zero: off).
  absl::Duration hang_timeout = absl::ZeroDuration();
  // --recovery in-place: a failed worker (not global rank 0, which serves the workers'
  // store) is started again alone while the others keep running, as long as restarts
  // remain (each counts as one); the C++ runtime re-forms its group around it
  // (runtime/fabric.h). A failure within --recovery-timeout of such a start restarts
  // the gang. false: gang (every worker restarts, torchrun's behaviour).
  bool recovery_in_place = false;
  absl::Duration recovery_timeout = absl::Seconds(30);
  // --spares N: processes per node started with the workers that wait, loaded, to take
  // over a failed worker (in-place only).
  int spares = 0;

  // The program and its arguments, untouched. program_argv[0] is what the user typed.
  std::vector<std::string> program_argv;
  // What to exec: for a .py program {python, script, args...}; else program_argv with
  // argv[0] resolved to a path.
  std::vector<std::string> exec_argv;
};

// True when `options` need the rendezvous: more than one node allowed, a standalone
// rendezvous endpoint given, or the etcd backend.
inline bool IsMultiNode(const LaunchOptions& options) {
  return options.max_nodes > 1 || !options.rdzv_endpoint.empty() || options.rdzv_etcd;
}

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_OPTIONS_H_
