// ParseCommandLine (cli.h): one file over 500 lines because it is the one table of
// flags and the one resolution order (flag > FABRIC_ > PET_ > Kubernetes > default) for
// every setting; value parsers are in cli_values, torchrun's spellings in torchrun_flags,
// Kubernetes' variables in kubernetes.
#include "launcher/cli.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/lightning_choices.h"
#include "common/one_line.h"
#include "common/run_id.h"
#include "common/status_macros.h"
#include "launcher/cli_values.h"
#include "launcher/kubernetes.h"
#include "launcher/torchrun_flags.h"
#include "launcher/zygote_request.h"

namespace fabric::launcher {
namespace {

constexpr char kVersionText[] = "fabric-run " FABRIC_VERSION;  // //:version.bzl
// execvp's fallback when PATH is not set.
constexpr char kDefaultPath[] = "/bin:/usr/bin";

enum class Kind { kValue, kBool, kAction };

struct FlagSpec {
  std::string name;  // canonical, dashed: "num-nodes"
  Kind kind;
  std::string metavar;
  std::string default_text;
  std::string help;
  std::vector<std::string> aliases;  // dashed; underscores are normalized away
};

const std::vector<FlagSpec>& Flags() {
  // One flag per entry, laid out by hand.
  // clang-format off
  static const auto* flags = new std::vector<FlagSpec>{
      {"accelerator", Kind::kValue, "{cpu,cuda,gpu,auto}", "cpu",
       "Hardware to run on. gpu = cuda. auto = cuda when CUDA_VISIBLE_DEVICES lists "
       "GPUs, else cpu. A GPU id list in --devices implies cuda.",
       {}},
      {"strategy", Kind::kValue, "{auto,ddp,fsdp,...}", "(the program's choice)",
       "Lightning strategy, passed to workers as LT_STRATEGY when given: auto, "
       "single_device, ddp, ddp_find_unused_parameters_{false,true}, fsdp (ddp_spawn, "
       "ddp_fork, dp and deepspeed are refused).",
       {}},
      {"devices", Kind::kValue, "N|auto|IDS", "1",
       "Workers per node: a count, auto (1 on cpu; the GPUs in CUDA_VISIBLE_DEVICES "
       "on cuda), or GPU ids such as 0,2.",
       {"nproc-per-node"}},
      {"num-nodes", Kind::kValue, "N|MIN:MAX", "1",
       "Number of nodes, or an elastic range.", {"nnodes"}},
      {"node-rank", Kind::kValue, "R", "(assigned by rendezvous)",
       "This node's rank, 0 <= R < nodes.", {}},
      {"main-address", Kind::kValue, "HOST", "127.0.0.1",
       "Address of the rendezvous host (node 0). Several nodes only: one node has no "
       "rendezvous and its workers' MASTER_ADDR is 127.0.0.1.", {"master-addr"}},
      {"main-port", Kind::kValue, "PORT", "29400",
       "Rendezvous port on the main address. Several nodes only: the workers' MASTER_PORT "
       "is always a port fabric-run verified free (so a busy port never fails a job).",
       {"master-port"}},
      {"precision", Kind::kValue, "P", "(the program's choice)",
       "32-true, 64-true, 16-true, bf16-true, 16-mixed or bf16-mixed (16, bf16, 32, 64 are "
       "normalized as Lightning does); passed to workers as LT_PRECISION when given.",
       {}},
      {"max-restarts", Kind::kValue, "N", "0",
       "Restart the worker group up to N times after a failure.", {}},
      {"run-id", Kind::kValue, "ID", "(generated)",
       "Job id shared by all nodes ([A-Za-z0-9._-]). Generated: slurm-<job>.<step> "
       "under SLURM; fabric-<pid>-<hex> on one node; derived from the rendezvous "
       "address on several.",
       {"rdzv-id"}},
      {"grace-period", Kind::kValue, "DURATION", "30s",
       "Time between SIGTERM and SIGKILL when stopping workers (seconds, or 500ms, "
       "30s, 2m).",
       {}},
      {"log-dir", Kind::kValue, "DIR", "(none)",
       "Write each rank's stdout/stderr to files in DIR (and the event log to\n"
       "DIR/RUN_ID/events.jsonl).", {}},
      {"events", Kind::kValue, "FILE", "(none)",
       "Append the run's event log to FILE: one JSON object a line in torchelastic's\n"
       "event record shape (doc/events.md).", {}},
      {"metrics-port", Kind::kValue, "PORT", "(off)",
       "Serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port, printed); "
       "doc/metrics.md.", {}},
      {"console-ranks", Kind::kValue, "all|none|RANKS", "all",
       "Which global ranks' output reaches the console, e.g. 0 or 0,2-3.", {}},
      {"quiet", Kind::kBool, "", "false",
       "No worker output on the console (same as --console-ranks none).", {}},
      {"python", Kind::kValue, "PATH", "python3",
       "Interpreter for a .py program (a name is looked up in PATH, so an activated\n"
       "virtual environment's python3 is the default).", {}},
      {"standalone", Kind::kBool, "", "false",
       "One node, no rendezvous (the workers' store takes a free local port): overrides "
       "--num-nodes, --node-rank, --main-address, --main-port, --rdzv-endpoint, "
       "--rdzv-backend and --rdzv-id/--run-id, with a warning naming them.", {}},
      {"rdzv-endpoint", Kind::kValue, "HOST:PORT", "(none: embedded on node 0)",
       "A separately started rendezvous server.", {}},
      {"requeue-on-signal", Kind::kValue, "USR1|USR2", "(off)",
       "In a SLURM job: on this signal (SLURM's --signal warning) forward it, give the "
       "workers the grace period to exit, stop them, run scontrol requeue and exit 0.",
       {}},
      {"rdzv-token", Kind::kValue, "TOKEN", "(none)",
       "Shared secret every agent and the rendezvous must present (FABRIC_RDZV_TOKEN); "
       "hidden from ps. Without one, a rendezvous reachable from other machines needs "
       "SLURM (munge) or --rdzv-insecure.", {}},
      {"rdzv-token-file", Kind::kValue, "FILE", "(none)",
       "Read the rendezvous token from FILE.", {}},
      {"rdzv-insecure", Kind::kBool, "", "false",
       "Accept a rendezvous reachable from other machines with no authentication.", {}},
      {"rdzv-tls-ca", Kind::kValue, "FILE", "(none: plaintext)",
       "TLS to the rendezvous: the PEM CA that signed the rendezvous server's certificate.",
       {}},
      {"rdzv-tls-cert", Kind::kValue, "FILE", "(none)",
       "This agent's PEM certificate: served when it hosts the rendezvous, presented to it "
       "otherwise.", {}},
      {"rdzv-tls-key", Kind::kValue, "FILE", "(none)", "The key of --rdzv-tls-cert.", {}},
      {"rdzv-tls-client-auth", Kind::kBool, "", "false",
       "The rendezvous requires client certificates signed by --rdzv-tls-ca (mutual TLS; "
       "then no token is needed).", {}},
      {"join-timeout", Kind::kValue, "DURATION", "600s",
       "Several nodes: how long to wait for the nodes to join.", {}},
      {"last-call-timeout", Kind::kValue, "DURATION", "1s",
       "Several nodes: after min nodes joined, how long to wait for more (elastic).", {}},
      {"keepalive-timeout", Kind::kValue, "DURATION", "5s",
       "Several nodes: a node that misses heartbeats this long is considered dead.", {}},
      {"recovery", Kind::kValue, "gang|in-place", "gang",
       "After a worker fails: restart every worker (gang), or start only the failed one "
       "again while the others keep their state (in-place; the C++ runtime with DDP; not "
       "global rank 0). Each counts against --max-restarts.", {}},
      {"recovery-timeout", Kind::kValue, "DURATION", "30s",
       "In-place: how long the live workers wait for the replacement (several nodes: for "
       "the shrink); a failure within this time of a replacement's start, or a worker not "
       "re-formed this long after a shrink, restarts the gang.", {}},
      {"spares", Kind::kValue, "N", "0",
       "In-place: N processes per node, started with the workers, wait (program loaded, "
       "in the C++ runtime) to take over a failed worker at once.", {}},
      {"hang-timeout", Kind::kValue, "DURATION", "0 (off)",
       "A worker that beat (the C++ runtime on every step and collective; Python: "
       "fabric_heartbeat.beat()) and then not for this long is hung: its stack is "
       "captured (SIGABRT), it is killed, and the gang restarts or fails.", {}},
      // torchrun's own flags (launcher/torchrun_flags.h; PET_<FLAG> variables too).
      {"role", Kind::kValue, "NAME", "default", "torchrun's --role: the workers' ROLE_NAME.", {}},
      {"rdzv-backend", Kind::kValue, "c10d|static|etcd", "static",
       "c10d and static: fabric-run's own rendezvous (in node 0's agent or "
       "fabric-rendezvous); etcd (or etcd-v2, etcd-v3): the job's state on the etcd "
       "cluster --rdzv-endpoint H1:2379,H2:2379,... with --rdzv-id, which survives the "
       "loss of any host (doc/rendezvous.md).", {}},
      {"rdzv-grace", Kind::kValue, "DURATION", "60s",
       "etcd backend: while etcd has no quorum the workers keep running this long; then "
       "every agent stops them and exits.", {}},
      {"rdzv-conf", Kind::kValue, "K=V,...", "(none)",
       "torchrun's rendezvous settings: join_timeout, last_call_timeout, "
       "keep_alive_interval, keep_alive_max_attempt map onto fabric-run's timeouts; for "
       "etcd also protocol=https, cacert=, cert=, key= (TLS).", {}},
      {"monitor-interval", Kind::kValue, "SECONDS", "0.1",
       "Accepted for torchrun; fabric-run sees worker exits at once instead of polling.", {}},
      {"start-method", Kind::kValue, "spawn|fork|forkserver", "spawn",
       "Accepted for torchrun; every worker is a fresh process.", {}},
      {"event-log-handler", Kind::kValue, "null", "null",
       "Accepted for torchrun when null.", {}},
      {"module", Kind::kBool, "", "false",
       "torchrun's -m: run PROGRAM as a Python module (python -m PROGRAM).", {}},
      {"no-python", Kind::kBool, "", "false",
       "torchrun's --no-python: run PROGRAM itself, even a .py file.", {}},
      {"run-path", Kind::kBool, "", "false", "torchrun's --run-path: refused (no interpreter).",
       {}},
      {"redirects", Kind::kValue, "N|LR:N,...", "0",
       "torchrun's -r: ranks whose output goes only to --log-dir's files.", {}},
      {"tee", Kind::kValue, "N|LR:N,...", "0",
       "torchrun's -t: output to the console and the files (fabric-run's default; the "
       "files need --log-dir).", {}},
      {"local-ranks-filter", Kind::kValue, "LOCAL_RANKS", "(all)",
       "torchrun's filter: only these local ranks reach the console.", {}},
      {"duplicate-stdout-filters", Kind::kValue, "LIST", "(none)", "torchrun's: refused.", {}},
      {"duplicate-stderr-filters", Kind::kValue, "LIST", "(none)", "torchrun's: refused.", {}},
      {"local-addr", Kind::kValue, "HOST", "(none)", "torchrun's: refused.", {}},
      {"logs-specs", Kind::kValue, "NAME", "(none)", "torchrun's: refused.", {}},
      {"numa-binding", Kind::kValue, "node|socket|exclusive|core-complex", "(none)",
       "torchrun's: bind each worker, before its exec, to the CPUs (and prefer the memory) "
       "of its GPU's NUMA node: the node's CPUs, its socket's, an even share of the node's "
       "cores, or one L3 group of them. No GPU: ranks go round-robin over the nodes.", {}},
      {"signals-to-handle", Kind::kValue, "SIGNALS", "SIGTERM,SIGINT,SIGHUP,SIGQUIT",
       "torchrun's: accepted for the signals fabric-run always relays (TERM, INT, HUP, "
       "QUIT, USR1, USR2).", {}},
      {"virtual-local-rank", Kind::kBool, "", "false",
       "torchrun's: every worker sees LOCAL_RANK=0 and only its own GPU.", {}},
      {"preload", Kind::kValue, "MODULES", "(off)",
       "Python programs: one zygote per node imports these modules (comma-separated, e.g. "
       "torch,numpy) once and forks every worker of every attempt, instead of each worker "
       "importing them (doc/preload.md).", {}},
      {"dry-run", Kind::kBool, "", "false",
       "Print the plan (every setting and where it came from, each worker's command and "
       "environment on this node) and exit 0 without starting anything.", {}},
      {"help", Kind::kAction, "", "", "Print this help and exit.", {}},
      {"version", Kind::kAction, "", "", "Print the version and exit.", {}},
  };
  // clang-format on
  return *flags;
}

std::string EnvName(const std::string& flag) {
  std::string v = absl::StrCat("FABRIC_", flag);
  std::replace(v.begin(), v.end(), '-', '_');
  return absl::AsciiStrToUpper(v);
}

const FlagSpec* Lookup(const std::string& dashed) {
  for (const FlagSpec& f : Flags()) {
    if (f.name == dashed) return &f;
    for (const std::string& a : f.aliases) {
      if (a == dashed) return &f;
    }
  }
  return nullptr;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

absl::Status UnknownFlag(const std::string& typed) {
  std::string dashed(absl::StripLeadingAsciiWhitespace(
      absl::string_view(typed).substr(std::min(typed.find_first_not_of('-'), typed.size()))));
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  std::string best;
  size_t best_d = dashed.size() / 2 + 2;
  for (const FlagSpec& f : Flags()) {
    std::vector<std::string> names = f.aliases;
    names.push_back(f.name);
    for (const std::string& n : names) {
      size_t d = EditDistance(dashed, n);
      if (d < best_d || (!best.empty() && d == best_d && n == f.name)) {
        best_d = d;
        best = n;
      }
    }
  }
  std::string hint =
      best.empty() ? "see fabric-run --help" : absl::StrCat("did you mean --", best, "?");
  return absl::InvalidArgumentError(
      absl::StrCat("unknown flag ", typed, "; ", hint,
                   " (put the program's own flags after the program or after --)"));
}

}  // namespace

int CountNvidiaGpus(const std::string& proc_dir) {
  DIR* dir = opendir(proc_dir.c_str());
  if (dir == nullptr) return 0;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

namespace {

std::optional<int> VisibleGpuCount(const EnvMap& env) {
  auto it = env.find(kEnvCudaVisibleDevices);
  if (it == env.end()) return std::nullopt;
  int n = 0;
  for (absl::string_view id : absl::StrSplit(it->second, ',')) {
    id = absl::StripAsciiWhitespace(id);
    if (id.empty() || absl::StartsWith(id, "-")) break;
    ++n;
  }
  return n;
}

std::string HelpText() {
  std::string s =
      "Usage: fabric-run [options] PROGRAM [ARGS...]\n"
      "       fabric-run [options] -- PROGRAM [ARGS...]\n"
      "       fabric-run status [RUN-ID] [--json]   (the jobs running on this machine)\n"
      "       fabric-run top [RUN-ID]               (the same, live)\n"
      "       fabric-run stacks [RUN-ID] [--rank R]...   (where each rank is now)\n"
      "       fabric-run install-torchrun [--undo]   (torchrun here runs fabric-run)\n\n"
      "Starts one worker per device on this node, joins the other nodes through a\n"
      "rendezvous, and supervises the workers. A .py PROGRAM runs under --python; any\n"
      "other PROGRAM is executed directly (a name without '/' is looked up in PATH).\n"
      "Everything after PROGRAM (or after --) is passed to it untouched.\n"
      "'status', 'top', 'stacks' or 'install-torchrun' as the first word is\n"
      "fabric-run's command; a program of that name runs by its path (./status) or\n"
      "after -- (fabric-run -- status).\n\n"
      "Options (each may also be set with the FABRIC_ variable shown; the command line\n"
      "wins; --flag=value and --flag value both work; '_' and '-' are interchangeable):\n";
  for (const FlagSpec& f : Flags()) {
    absl::StrAppend(&s, "  --", f.name, f.metavar.empty() ? "" : " ", f.metavar);
    for (const std::string& a : f.aliases) absl::StrAppend(&s, ", --", a);
    // Wrap at 80 columns with a 6-space indent.
    size_t col = 80;
    for (absl::string_view word : absl::StrSplit(f.help, ' ', absl::SkipEmpty())) {
      if (col + 1 + word.size() > 80) {
        absl::StrAppend(&s, "\n      ", word);
        col = 6 + word.size();
      } else {
        absl::StrAppend(&s, " ", word);
        col += 1 + word.size();
      }
    }
    if (f.kind != Kind::kAction) {
      absl::StrAppend(&s, "\n      Default: ", f.default_text, ". Env: ", EnvName(f.name), ".");
    }
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(&s, "  -h  Same as --help.\n");
  return s;
}

absl::StatusOr<std::optional<CliResult>> Scan(const std::vector<std::string>& args, RawMap* raw,
                                              std::vector<std::string>* program) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      program->assign(args.begin() + i + 1, args.end());
      return std::nullopt;
    }
    if (a == "-h") return CliResult{CliResult::Action::kHelp, {}, HelpText()};
    if (!absl::StartsWith(a, "-") || a == "-") {
      program->assign(args.begin() + i, args.end());
      return std::nullopt;
    }
    // torchrun's short flags: -m, -r N / -rN, -t N / -tN.
    if (a == "-m") {
      (*raw)["module"] = Raw{"true", a, true};
      continue;
    }
    if (absl::StartsWith(a, "-r") || absl::StartsWith(a, "-t")) {
      if (!absl::StartsWith(a, "--")) {
        const std::string name = a[1] == 'r' ? "redirects" : "tee";
        std::string value = a.substr(2);
        if (value.empty()) {
          if (i + 1 >= args.size()) {
            return absl::InvalidArgumentError(absl::StrCat(a, ": missing value; expected N"));
          }
          value = args[++i];
        }
        (*raw)[name] = Raw{value, a.substr(0, 2), true};
        continue;
      }
    }
    if (!absl::StartsWith(a, "--")) return UnknownFlag(a);
    size_t eq = a.find('=');
    std::string typed = a.substr(0, eq);
    std::string dashed = typed.substr(2);
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    const FlagSpec* spec = Lookup(dashed);
    if (spec == nullptr) return UnknownFlag(typed);
    std::string value;
    if (spec->kind == Kind::kAction) {
      if (eq != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(typed, " takes no value"));
      }
      if (spec->name == "help") return CliResult{CliResult::Action::kHelp, {}, HelpText()};
      return CliResult{CliResult::Action::kVersion, {}, kVersionText};
    } else if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (spec->kind == Kind::kBool) {
      value = "true";
    } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(typed, ": missing value; expected ", spec->metavar));
    }
    if (spec->kind == Kind::kValue && absl::StripAsciiWhitespace(value).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(typed, ": empty value; expected ", spec->metavar));
    }
    (*raw)[spec->name] = Raw{std::string(absl::StripAsciiWhitespace(value)), typed, true};
  }
  return std::nullopt;
}

// torchrun's names for a flag (the flag itself and its aliases) that torchrun reads from
// PET_<NAME>: every torchrun flag.
bool IsTorchrunName(const std::string& dashed) {
  static const auto* const kNames = new std::set<std::string>{"nnodes",
                                                              "nproc-per-node",
                                                              "rdzv-backend",
                                                              "rdzv-endpoint",
                                                              "rdzv-id",
                                                              "rdzv-conf",
                                                              "standalone",
                                                              "max-restarts",
                                                              "monitor-interval",
                                                              "start-method",
                                                              "event-log-handler",
                                                              "role",
                                                              "module",
                                                              "no-python",
                                                              "run-path",
                                                              "log-dir",
                                                              "redirects",
                                                              "tee",
                                                              "local-ranks-filter",
                                                              "duplicate-stdout-filters",
                                                              "duplicate-stderr-filters",
                                                              "node-rank",
                                                              "master-addr",
                                                              "master-port",
                                                              "local-addr",
                                                              "logs-specs",
                                                              "numa-binding",
                                                              "signals-to-handle",
                                                              "virtual-local-rank"};
  return kNames->count(dashed) > 0;
}

// Flag values from the environment; empty variables count as unset. FABRIC_<FLAG> wins
// over torchrun's PET_<FLAG> (its own spelling, e.g. PET_NPROC_PER_NODE for --devices).
RawMap FromEnv(const EnvMap& env) {
  RawMap raw;
  for (const FlagSpec& f : Flags()) {
    if (f.kind == Kind::kAction) continue;
    std::vector<std::string> vars = {EnvName(f.name)};
    std::vector<std::string> names = {f.name};
    names.insert(names.end(), f.aliases.begin(), f.aliases.end());
    for (const std::string& n : names) {
      if (!IsTorchrunName(n)) continue;
      std::string var = "PET_" + n;
      std::replace(var.begin(), var.end(), '-', '_');
      vars.push_back(absl::AsciiStrToUpper(var));
    }
    for (const std::string& var : vars) {
      auto it = env.find(var);
      if (it == env.end()) continue;
      std::string v(absl::StripAsciiWhitespace(it->second));
      if (!v.empty()) {
        raw[f.name] = Raw{v, var, false};
        break;
      }
    }
  }
  return raw;
}

// A GPU id list such as "0,2" (or "1," for one id): distinct ids >= 0.
absl::StatusOr<std::vector<int>> ParseDeviceIds(const Raw& r) {
  std::vector<int> ids;
  for (absl::string_view tok : absl::StrSplit(r.value, ',', absl::SkipEmpty())) {
    int id = 0;
    if (!absl::SimpleAtoi(tok, &id) || id < 0) {
      return Bad(r, absl::StrCat("has a bad GPU id '", tok, "'; use ids >= 0 such as 0,2"));
    }
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) {
      return Bad(r, absl::StrCat("lists GPU ", id, " twice"));
    }
    ids.push_back(id);
  }
  if (ids.empty()) return Bad(r, "has no GPU ids; use a list such as 0,2");
  return ids;
}

// Resolves --accelerator and --devices together (auto depends on both). The GPUs a
// worker can use: CUDA_VISIBLE_DEVICES's list when it is set, else the GPUs the NVIDIA
// driver reports (`machine`).
absl::Status ResolveDevices(const RawMap& raw, const EnvMap& env, const MachineFacts& machine,
                            LaunchOptions* o) {
  // Unset: cpu, unless --devices is a GPU id list (then cuda).
  std::string accel = "unset";
  if (auto it = raw.find("accelerator"); it != raw.end()) {
    accel = it->second.value;
    if (accel == "gpu") accel = "cuda";
    if (accel != "cpu" && accel != "cuda" && accel != "auto") {
      return Bad(it->second, "is not supported; use cpu, cuda (= gpu) or auto");
    }
  }
  const std::optional<int> visible = VisibleGpuCount(env);
  const int gpus = visible.has_value() ? *visible : machine.nvidia_gpus;
  const std::string gpus_from =
      visible.has_value() ? absl::StrCat("the ", gpus, " that CUDA_VISIBLE_DEVICES exposes")
                          : absl::StrCat("the ", gpus, " GPU(s) of this machine");
  const Raw* devices_raw = nullptr;
  if (auto it = raw.find("devices"); it != raw.end()) {
    const Raw& r = it->second;
    devices_raw = &r;
    o->devices_spec = r.value;
    if (r.value.find(',') != std::string::npos) {
      FABRIC_ASSIGN_OR_RETURN(std::vector<int> ids, ParseDeviceIds(r));
      if (accel == "cpu") {
        return Bad(r, absl::StrCat("is a GPU id list, which needs --accelerator cuda; "
                                   "on cpu give a count such as --devices ",
                                   ids.size()));
      }
      accel = "cuda";  // from auto, gpu, cuda or unset
      if (gpus > 0 && *std::max_element(ids.begin(), ids.end()) >= gpus) {
        return Bad(r,
                   absl::StrCat("names a GPU beyond ", gpus_from, " (ids are 0-", gpus - 1, ")"));
      }
      o->devices = static_cast<int>(ids.size());
      o->device_ids = ids;
      o->devices_set = true;
    } else if ((r.value == "cpu" || r.value == "gpu" || r.value == "auto") &&
               r.source != "--devices" && r.source != "FABRIC_DEVICES") {
      // torchrun's spelling (--nproc-per-node, PET_NPROC_PER_NODE), torchrun's meaning:
      // cpu = a worker per CPU; gpu = per GPU; auto = per GPU if any, else per CPU.
      const bool gpu = r.value == "gpu" || (r.value == "auto" && gpus > 0);
      if (gpu && accel == "cpu") return Bad(r, "asks for GPUs, but --accelerator is cpu");
      if (!gpu && accel == "cuda") return Bad(r, "asks for CPUs, but --accelerator is cuda");
      accel = gpu ? "cuda" : "cpu";
      o->devices = gpu ? gpus : machine.cpus;  // no GPU on cuda: refused below
      o->devices_set = true;
    } else if (r.value == "auto" || r.value == "-1") {
      if (accel == "unset") accel = "cpu";
      if (accel == "auto") accel = gpus > 0 ? "cuda" : "cpu";
      o->devices = accel == "cpu" ? 1 : gpus;  // no GPU on cuda: refused below
    } else {
      FABRIC_ASSIGN_OR_RETURN(o->devices,
                              ParseInt(r, 1, 1 << 16,
                                       "use a count >= 1 (workers per node), auto, or GPU "
                                       "ids such as 0,2"));
      o->devices_set = true;
      if (accel == "unset") accel = "cpu";
      if (accel == "auto") accel = gpus > 0 ? "cuda" : "cpu";
      if (accel == "cuda" && gpus > 0 && o->devices > gpus) {
        return Bad(r, absl::StrCat("asks for more GPUs than ", gpus_from));
      }
    }
  } else if (accel == "auto") {
    accel = gpus > 0 ? "cuda" : "cpu";
  }
  if (accel == "cuda" && gpus == 0) {
    // Refused before anything starts: a worker would only fail later, once per rank.
    auto it = raw.find("accelerator");
    const Raw& r = it != raw.end() ? it->second : *devices_raw;
    return Bad(r, visible.has_value()
                      ? "asks for CUDA, but CUDA_VISIBLE_DEVICES hides every GPU; set it to "
                        "the GPUs to use, or use --accelerator cpu"
                      : "asks for CUDA, but this machine has no NVIDIA GPU (the driver lists "
                        "none in /proc/driver/nvidia/gpus and CUDA_VISIBLE_DEVICES is unset); "
                        "use --accelerator cpu");
  }
  o->accelerator_set = raw.count("accelerator") > 0 || o->device_ids.has_value();
  o->accelerator = accel == "unset" ? "cpu" : accel;
  return absl::OkStatus();
}

absl::Status ResolveStrategy(const RawMap& raw, LaunchOptions* o) {
  auto it = raw.find("strategy");
  if (it == raw.end()) return absl::OkStatus();
  absl::StatusOr<std::string> s = CanonicalStrategy(it->second.value);
  if (!s.ok()) return Bad(it->second, s.status().message());
  o->strategy = *s;
  return absl::OkStatus();
}

absl::Status ResolveNodes(const RawMap& raw, LaunchOptions* o) {
  if (auto it = raw.find("num-nodes"); it != raw.end()) {
    const Raw& r = it->second;
    constexpr char kFix[] = "use N >= 1 or MIN:MAX with 1 <= MIN <= MAX";
    std::vector<std::string> parts = absl::StrSplit(r.value, ':');
    if (parts.size() > 2) return Bad(r, absl::StrCat("is not N or MIN:MAX; ", kFix));
    int lo = 0, hi = 0;
    if (!absl::SimpleAtoi(parts[0], &lo) || !absl::SimpleAtoi(parts.back(), &hi)) {
      return Bad(r, absl::StrCat("is not N or MIN:MAX; ", kFix));
    }
    if (lo < 1 || hi < lo) return Bad(r, absl::StrCat("is out of range; ", kFix));
    o->min_nodes = lo;
    o->max_nodes = hi;
    o->num_nodes_set = lo == hi;  // an elastic range leaves the count open
  }
  if (auto it = raw.find("node-rank"); it != raw.end()) {
    const Raw& r = it->second;
    FABRIC_ASSIGN_OR_RETURN(int rank, ParseInt(r, 0, 1 << 20, "use a node rank >= 0"));
    if (rank >= o->max_nodes) {
      return Bad(r,
                 absl::StrCat("must be below the number of nodes (", o->max_nodes,
                              "); node ranks are 0-", o->max_nodes - 1, ", or raise --num-nodes"));
    }
    o->node_rank = rank;
  }
  return absl::OkStatus();
}

absl::Status ResolvePrecision(const RawMap& raw, LaunchOptions* o) {
  auto it = raw.find("precision");
  if (it == raw.end()) return absl::OkStatus();
  absl::StatusOr<std::string> p = CanonicalPrecision(it->second.value);
  if (!p.ok()) return Bad(it->second, p.status().message());
  o->precision = *p;
  return absl::OkStatus();
}

absl::Status ResolveTimes(const RawMap& raw, LaunchOptions* o) {
  struct Item {
    const char* flag;
    absl::Duration* out;
    bool allow_zero;
  };
  for (const Item& item :
       {Item{"grace-period", &o->grace_period, true}, Item{"join-timeout", &o->join_timeout, false},
        Item{"last-call-timeout", &o->last_call_timeout, true},
        Item{"keepalive-timeout", &o->keepalive_timeout, false},
        Item{"rdzv-grace", &o->rdzv_grace, true}, Item{"hang-timeout", &o->hang_timeout, true},
        Item{"recovery-timeout", &o->recovery_timeout, false}}) {
    if (auto it = raw.find(item.flag); it != raw.end()) {
      FABRIC_ASSIGN_OR_RETURN(*item.out, ParseDurationValue(it->second, item.allow_zero));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ParseRanks(const Raw& r, int world_max) {
  std::set<int> ranks;
  for (absl::string_view tok : absl::StrSplit(r.value, ',')) {
    std::vector<absl::string_view> ab = absl::StrSplit(tok, absl::MaxSplits('-', 1));
    int lo = 0, hi = 0;
    if (!absl::SimpleAtoi(ab[0], &lo) || !absl::SimpleAtoi(ab.back(), &hi) || lo < 0 || hi < lo) {
      return Bad(r, absl::StrCat("has a bad rank or range '", tok,
                                 "'; use all, none, or ranks such as 0,2-3"));
    }
    if (hi >= world_max) {
      return Bad(r, absl::StrCat("names rank ", hi, " but the job has at most ", world_max,
                                 " ranks (0-", world_max - 1, ")"));
    }
    for (int i = lo; i <= hi; ++i) ranks.insert(i);
  }
  return std::vector<int>(ranks.begin(), ranks.end());
}

absl::Status ResolveConsole(const RawMap& raw, LaunchOptions* o) {
  auto q = raw.find("quiet");
  auto c = raw.find("console-ranks");
  bool use_quiet = q != raw.end();
  bool use_ranks = c != raw.end();
  if (use_quiet && use_ranks) {
    if (q->second.from_cli == c->second.from_cli) {
      return absl::InvalidArgumentError(absl::StrCat(q->second.source, " conflicts with ",
                                                     c->second.source, "; use one of them"));
    }
    use_quiet = q->second.from_cli;  // the command line wins over the environment
    use_ranks = !use_quiet;
  }
  if (use_quiet) {
    FABRIC_ASSIGN_OR_RETURN(bool quiet, ParseBool(q->second));
    if (quiet) o->console = ConsoleFilter{false, {}, true};
  }
  if (use_ranks) {
    const Raw& r = c->second;
    if (r.value == "all") {
      o->console = ConsoleFilter{};
    } else if (r.value == "none") {
      o->console = ConsoleFilter{false, {}, true};
    } else {
      FABRIC_ASSIGN_OR_RETURN(std::vector<int> ranks, ParseRanks(r, o->devices * o->max_nodes));
      o->console = ConsoleFilter{false, ranks, false};
    }
  }
  return absl::OkStatus();
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string PathOf(const EnvMap& env) {
  auto it = env.find("PATH");
  return it == env.end() ? kDefaultPath : it->second;
}

// A name without '/' found in PATH (an empty entry is the current directory).
std::optional<std::string> FindInPath(const std::string& name, const EnvMap& env) {
  for (absl::string_view dir : absl::StrSplit(PathOf(env), ':')) {
    std::string candidate =
        dir.empty() ? name : absl::StrCat(absl::StripSuffix(dir, "/"), "/", name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return std::nullopt;
}

// Checks an executable named by `what` ("--python", "program") and returns what to exec.
absl::StatusOr<std::string> ResolveExecutable(const std::string& name, const std::string& what,
                                              const EnvMap& env) {
  if (name.find('/') == std::string::npos) {
    std::optional<std::string> found = FindInPath(name, env);
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": '", name, "' was not found in PATH (",
                                                     PathOf(env), "); give its path, e.g. ./",
                                                     name));
    }
    return *found;
  }
  struct stat st;
  if (::stat(name.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", name, "' does not exist; check the path"));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", name, "' is a directory, not a program"));
  }
  if (!S_ISREG(st.st_mode) || ::access(name.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", name,
                     "' is not executable; chmod +x it or run it with its "
                     "interpreter"));
  }
  return name;
}

// The program: `python [-u] -m PROGRAM` (-m), `python [-u] PROGRAM` (a .py file, or as
// torchrun any program unless --no-python), else PROGRAM itself. As torchrun, Python
// runs unbuffered (-u), as torchrun starts it.
absl::Status ResolveProgram(const RawMap& raw, const EnvMap& env, bool torchrun,
                            std::vector<std::string> program, LaunchOptions* o) {
  if (program.empty()) {
    return absl::InvalidArgumentError(
        "no program given; usage: fabric-run [options] PROGRAM [ARGS...] "
        "(see fabric-run --help)");
  }
  const std::string& prog = program[0];
  const bool script =
      !o->python_module && !o->no_python && (torchrun || absl::EndsWith(prog, ".py"));
  if (o->python_module || script) {
    if (script) {
      struct stat st;
      if (::stat(prog.c_str(), &st) != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("program: script '", prog, "' does not exist; check the path"));
      }
      if (S_ISDIR(st.st_mode)) {
        return absl::InvalidArgumentError(
            absl::StrCat("program: '", prog, "' is a directory, not a Python script"));
      }
      if (::access(prog.c_str(), R_OK) != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("program: script '", prog, "' is not readable; check its permissions"));
      }
    }
    std::string what = "--python";
    if (auto it = raw.find("python"); it != raw.end()) what = it->second.source;
    FABRIC_ASSIGN_OR_RETURN(o->python, ResolveExecutable(o->python, what, env));
    o->exec_argv = {o->python};
    if (torchrun) o->exec_argv.push_back("-u");
    if (o->python_module) o->exec_argv.push_back("-m");
    o->exec_argv.insert(o->exec_argv.end(), program.begin(), program.end());
  } else {
    o->exec_argv = program;
    FABRIC_ASSIGN_OR_RETURN(o->exec_argv[0], ResolveExecutable(prog, "program", env));
  }
  o->program_argv = std::move(program);
  if (!o->preload.empty() && !(o->python_module || script) && !LooksLikePython(o->exec_argv[0])) {
    std::string what = "--preload";
    if (auto it = raw.find("preload"); it != raw.end()) what = it->second.source;
    if (!absl::StartsWith(what, "--")) {  // FABRIC_PRELOAD, e.g. from a profile: Python only
      o->preload.clear();
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", o->exec_argv[0],
                     "' is not a Python program; --preload needs a .py script, -m MODULE or a "
                     "python interpreter as the program"));
  }
  return absl::OkStatus();
}

absl::Status ResolveRunId(const RawMap& raw, const EnvMap& env, LaunchOptions* o) {
  if (auto it = raw.find("run-id"); it != raw.end()) {
    const Raw& r = it->second;
    if (!IsValidRunId(r.value)) {
      return Bad(r, "is not a valid run id; use up to 128 of [A-Za-z0-9._-]");
    }
    o->run_id = r.value;
    o->run_id_set = true;
    return absl::OkStatus();
  }
  // The forms are common/run_id.h's.
  auto job = env.find("SLURM_JOB_ID");
  int64_t job_id = 0, step_id = 0;
  if (job != env.end() && absl::SimpleAtoi(job->second, &job_id) && job_id >= 0) {
    auto step = env.find("SLURM_STEP_ID");
    if (step == env.end() || !absl::SimpleAtoi(step->second, &step_id) || step_id < 0) {
      step_id = 0;
    }
    o->run_id = SlurmRunId(job_id, step_id);
  } else if (o->rdzv_etcd) {
    // One etcd serves many jobs: a run id derived from its address would be shared.
    return absl::InvalidArgumentError(
        "--rdzv-backend etcd needs --rdzv-id ID (or --run-id): the job's keys in etcd are "
        "named by it; give every node the same one, a new one for each job");
  } else if (o->max_nodes == 1 && o->rdzv_endpoint.empty()) {
    o->run_id = LocalRunId(::getpid(), absl::Now());  // one node: unique per invocation
  } else {
    // Several nodes must agree without talking: derive it from what they share.
    o->run_id =
        SharedRunId(o->rdzv_endpoint.empty() ? absl::StrCat(o->main_address, ":", o->main_port)
                                             : o->rdzv_endpoint);
  }
  return absl::OkStatus();
}

// USR1, USR2 (any case, SIG prefix optional), or none/off (0). Only the preemption
// warnings: SIGTERM is what scancel sends, which must not requeue the job.
absl::StatusOr<int> ParseRequeueSignal(const Raw& r) {
  std::string v = absl::AsciiStrToUpper(r.value);
  if (absl::StartsWith(v, "SIG")) v = v.substr(3);
  if (v == "USR1") return SIGUSR1;
  if (v == "USR2") return SIGUSR2;
  if (v == "NONE" || v == "OFF") return 0;
  return Bad(r,
             "is not a requeue signal; use USR1 or USR2 (the signal of #SBATCH "
             "--signal=USR1@90), or none");
}

// --preload: dotted Python module names, comma-separated.
absl::Status ResolvePreload(const RawMap& raw, LaunchOptions* o) {
  auto it = raw.find("preload");
  if (it == raw.end()) return absl::OkStatus();
  const Raw& r = it->second;
  std::vector<std::string> modules;
  for (absl::string_view m : absl::StrSplit(r.value, ',')) {
    m = absl::StripAsciiWhitespace(m);
    bool ok = !m.empty() && m.front() != '.' && m.back() != '.' &&
              m.find("..") == absl::string_view::npos && !absl::ascii_isdigit(m.front());
    for (char c : m) ok = ok && (absl::ascii_isalnum(c) || c == '_' || c == '.');
    if (!ok) {
      return Bad(r, "is not a list of Python modules; use names such as torch,numpy");
    }
    modules.emplace_back(m);
  }
  o->preload = std::move(modules);
  return absl::OkStatus();
}

absl::Status ResolveRest(const RawMap& raw, LaunchOptions* o) {
  FABRIC_RETURN_IF_ERROR(ResolvePreload(raw, o));
  if (auto it = raw.find("main-address"); it != raw.end()) {
    const Raw& r = it->second;
    if (r.value.find_first_of(" /") != std::string::npos) {
      return Bad(r, "is not a host name or address");
    }
    if (std::count(r.value.begin(), r.value.end(), ':') == 1) {
      return Bad(r, "includes a port; give the host here and the port with --main-port");
    }
    o->main_address = r.value;
    o->main_address_set = true;
  }
  if (auto it = raw.find("main-port"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->main_port, ParsePort(it->second, it->second.value));
    o->main_port_set = true;
  }
  if (auto it = raw.find("max-restarts"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->max_restarts, ParseInt(it->second, 0, 1 << 20, "use a count >= 0"));
  }
  if (auto it = raw.find("recovery"); it != raw.end()) {
    if (it->second.value != "gang" && it->second.value != "in-place") {
      return Bad(it->second, "is not gang or in-place");
    }
    o->recovery_in_place = it->second.value == "in-place";
  }
  if (auto it = raw.find("spares"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->spares, ParseInt(it->second, 0, 1024, "use a count >= 0"));
    if (o->spares > 0 && !o->recovery_in_place) {
      return Bad(it->second,
                 "needs --recovery in-place (spares take over failed workers in place)");
    }
  }
  if (auto it = raw.find("log-dir"); it != raw.end()) o->log_dir = it->second.value;
  if (auto it = raw.find("events"); it != raw.end()) {
    if (it->second.value.empty()) return Bad(it->second, "needs a file name");
    o->events_file = it->second.value;
  }
  if (auto it = raw.find("metrics-port"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->metrics_port,
                            ParseInt(it->second, 0, 65535, "use a port in 0..65535 (0: any free)"));
  }
  if (auto it = raw.find("python"); it != raw.end()) o->python = it->second.value;
  if (auto it = raw.find("rdzv-backend"); it != raw.end()) {
    o->rdzv_etcd = absl::StartsWith(absl::AsciiStrToLower(it->second.value), "etcd");
  }
  if (o->rdzv_etcd) {
    auto it = raw.find("rdzv-endpoint");
    if (it == raw.end()) {
      return absl::InvalidArgumentError(
          "--rdzv-backend etcd needs --rdzv-endpoint naming the etcd members, e.g. "
          "h1:2379,h2:2379,h3:2379");
    }
    for (absl::string_view member : absl::StrSplit(it->second.value, ',', absl::SkipEmpty())) {
      Raw one = it->second;
      one.value = std::string(absl::StripAsciiWhitespace(member));
      FABRIC_ASSIGN_OR_RETURN(std::string e, ParseEndpoint(one, /*default_port=*/2379));
      if (absl::EndsWith(e, ":0"))
        return Bad(it->second, "has port 0; give each etcd member's port");
      o->etcd_endpoints.push_back(e);
    }
    if (o->etcd_endpoints.empty()) return Bad(it->second, "names no etcd member");
    o->rdzv_endpoint = absl::StrJoin(o->etcd_endpoints, ",");
  } else if (auto it = raw.find("rdzv-endpoint"); it != raw.end()) {
    const Raw& r = it->second;
    FABRIC_ASSIGN_OR_RETURN(o->rdzv_endpoint, ParseEndpoint(r, /*default_port=*/29400));
    const bool any_port = absl::EndsWith(o->rdzv_endpoint, ":0");
    const std::string host = o->rdzv_endpoint.substr(0, o->rdzv_endpoint.rfind(':'));
    const bool loopback = host == "localhost" || absl::StartsWith(host, "127.") || host == "[::1]";
    if (any_port && o->max_nodes > 1) {
      return Bad(r,
                 "has port 0 (any free port), which the other nodes cannot know; give "
                 "the port every node uses, e.g. HOST:29400");
    }
    // One node on this machine needs no rendezvous (torchtitan's localhost:0, the
    // examples' localhost:29400): nothing to listen on, no port another job can share.
    if (o->max_nodes == 1 && (any_port || loopback)) o->rdzv_endpoint.clear();
  }
  if (auto it = raw.find("rdzv-token"); it != raw.end()) o->rdzv_token = it->second.value;
  if (auto it = raw.find("rdzv-token-file"); it != raw.end()) {
    o->rdzv_token_file = it->second.value;
  }
  if (auto it = raw.find("rdzv-insecure"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->rdzv_insecure, ParseBool(it->second));
  }
  if (auto it = raw.find("rdzv-tls-ca"); it != raw.end()) o->rdzv_tls_ca = it->second.value;
  if (auto it = raw.find("rdzv-tls-cert"); it != raw.end()) o->rdzv_tls_cert = it->second.value;
  if (auto it = raw.find("rdzv-tls-key"); it != raw.end()) o->rdzv_tls_key = it->second.value;
  if (auto it = raw.find("rdzv-tls-client-auth"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->rdzv_tls_client_auth, ParseBool(it->second));
  }
  if (auto it = raw.find("standalone"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->standalone, ParseBool(it->second));
  }
  if (auto it = raw.find("requeue-on-signal"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o->requeue_signal, ParseRequeueSignal(it->second));
  }
  return absl::OkStatus();
}

// The settings --standalone replaces (torchrun's run.py sets rdzv_backend, rdzv_endpoint
// and rdzv_id under it; fabric-run also pins the node count and rank, and the rendezvous
// address and port, which one node without a rendezvous never uses).
constexpr const char* kStandaloneOverrides[] = {"num-nodes", "node-rank",     "main-address",
                                                "main-port", "rdzv-endpoint", "rdzv-backend",
                                                "run-id"};

// --standalone (flag or variable) true: removes the settings it overrides from `raw`, so
// the job is one node (num-nodes 1, node rank 0) with no rendezvous (a LocalCoordinator
// picks a free MASTER_PORT) and a generated run id; when any was given, appends one line
// to `warnings` naming each by where it came from. A bad --standalone value is an error.
absl::Status ApplyStandalone(RawMap* raw, std::vector<std::string>* warnings) {
  auto it = raw->find("standalone");
  if (it == raw->end()) return absl::OkStatus();
  FABRIC_ASSIGN_OR_RETURN(bool standalone, ParseBool(it->second));
  if (!standalone) return absl::OkStatus();
  std::vector<std::string> overridden;
  for (const char* name : kStandaloneOverrides) {
    auto o = raw->find(name);
    if (o == raw->end()) continue;
    overridden.push_back(absl::StrCat(o->second.source, " ", o->second.value));
    raw->erase(o);
  }
  if (!overridden.empty()) {
    warnings->push_back(absl::StrCat(
        it->second.source, " overrides ", absl::StrJoin(overridden, ", "),
        ": one node, node rank 0, no rendezvous, a generated run id (for several nodes "
        "drop ",
        it->second.source, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

Personality PersonalityFor(const std::string& argv0) {
  const size_t slash = argv0.rfind('/');
  const std::string base = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
  return base == "torchrun" ? Personality::kTorchrun : Personality::kFabricRun;
}

namespace {

absl::StatusOr<CliResult> Parse(const std::vector<std::string>& args, const EnvMap& env,
                                const MachineFacts& machine, Personality personality);

}  // namespace

absl::StatusOr<CliResult> ParseCommandLine(const std::vector<std::string>& args, const EnvMap& env,
                                           const MachineFacts& machine, Personality personality) {
  if (!args.empty() &&
      (args[0] == "status" || args[0] == "top" || args[0] == "stacks" ||
       args[0] == "install-torchrun") &&
      personality == Personality::kFabricRun) {
    CliResult status;
    status.action = args[0] == "top"                ? CliResult::Action::kTop
                    : args[0] == "stacks"           ? CliResult::Action::kStacks
                    : args[0] == "install-torchrun" ? CliResult::Action::kInstallTorchrun
                                                    : CliResult::Action::kStatus;
    status.command_args.assign(args.begin() + 1, args.end());
    return status;
  }
  absl::StatusOr<CliResult> r = Parse(args, env, machine, personality);
  if (!r.ok()) return OneLine(r.status());
  return r;
}

namespace {

absl::StatusOr<CliResult> Parse(const std::vector<std::string>& args, const EnvMap& env,
                                const MachineFacts& machine, Personality personality) {
  const bool torchrun = personality == Personality::kTorchrun;
  RawMap raw = FromEnv(env);
  std::vector<std::string> program;
  FABRIC_ASSIGN_OR_RETURN(std::optional<CliResult> early, Scan(args, &raw, &program));
  if (early) {
    if (torchrun && early->action == CliResult::Action::kHelp) {
      early->text = absl::StrCat(
          "torchrun: this is fabric-run installed as torchrun (torchrun's flags and PET_* "
          "variables keep their meaning; --master-port defaults to 29500).\n\n",
          early->text);
    }
    if (torchrun && early->action == CliResult::Action::kVersion) {
      absl::StrAppend(&early->text, " (installed as torchrun)");
    }
    return *std::move(early);
  }
  AddKubernetesSettings(env, &raw);

  CliResult result;
  FABRIC_RETURN_IF_ERROR(ApplyStandalone(&raw, &result.warnings));
  LaunchOptions& o = result.options;
  o.torchrun = torchrun;
  if (torchrun) o.main_port = 29500;  // torchrun's --master-port default
  FABRIC_RETURN_IF_ERROR(ResolveDevices(raw, env, machine, &o));
  FABRIC_RETURN_IF_ERROR(ResolveStrategy(raw, &o));
  FABRIC_RETURN_IF_ERROR(ResolveNodes(raw, &o));
  FABRIC_RETURN_IF_ERROR(ResolvePrecision(raw, &o));
  FABRIC_RETURN_IF_ERROR(ResolveTimes(raw, &o));
  FABRIC_RETURN_IF_ERROR(ResolveRest(raw, &o));
  // Installed by pip into an environment: that environment's Python (MachineFacts).
  if (raw.find("python") == raw.end() && !machine.venv_python.empty()) {
    o.python = machine.venv_python;
  }
  FABRIC_RETURN_IF_ERROR(ResolveConsole(raw, &o));
  FABRIC_RETURN_IF_ERROR(ResolveRunId(raw, env, &o));
  FABRIC_RETURN_IF_ERROR(ResolveTorchrunFlags(raw, &o));
  if (auto it = raw.find("dry-run"); it != raw.end()) {
    FABRIC_ASSIGN_OR_RETURN(o.dry_run, ParseBool(it->second));
  }
  for (const auto& [name, r] : raw) o.sources[name] = r.source;
  FABRIC_RETURN_IF_ERROR(ResolveProgram(raw, env, torchrun, std::move(program), &o));
  return result;
}

}  // namespace

}  // namespace fabric::launcher
