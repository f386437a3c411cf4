#include "runtime/config.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/lightning_choices.h"
#include "common/status_macros.h"

namespace fabric::runtime {
namespace {

std::optional<std::string> Lookup(const EnvMap& env, const char* name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Code value vs LT_* value, Lightning's rule (connector._argument_from_env): the
// launcher exports LT_* only for flags the user gave; a code value equal to the default
// (`fallback`, e.g. "auto") yields to it; any other code value must agree with it.
// `canon` maps a spelling to its canonical form so that "gpu" and "cuda", "bf16" and
// "bf16-mixed" agree.
template <typename Canon>
absl::StatusOr<std::string> Merge(const char* option, const std::optional<std::string>& code,
                                  const EnvMap& env, const char* var, Canon canon,
                                  const std::string& fallback) {
  std::optional<std::string> from_env = Lookup(env, var);
  std::optional<std::string> c, e;
  if (code.has_value()) {
    FABRIC_ASSIGN_OR_RETURN(c, canon(*code, absl::StrCat("FabricOptions.", option)));
  }
  if (from_env.has_value()) {
    FABRIC_ASSIGN_OR_RETURN(e, canon(*from_env, var));
  }
  if (c.has_value() && e.has_value() && *c != *e && *c != fallback) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": the program sets FabricOptions.", option, "='", *code, "' but ",
                     var, "='", *from_env, "' (from the launcher's --", option,
                     " flag); remove one of them or make them agree"));
  }
  if (e.has_value()) return *e;
  if (c.has_value()) return *c;
  return fallback;
}

absl::StatusOr<std::string> CanonAccelerator(const std::string& v, const std::string& where) {
  std::string s = absl::AsciiStrToLower(v);
  if (s == "gpu") s = "cuda";
  if (s == "cpu" || s == "cuda" || s == "auto") return s;
  return absl::InvalidArgumentError(
      absl::StrCat(where, "='", v, "' is not an accelerator (cpu, cuda, gpu, auto)"));
}

// Lightning's names (common/lightning_choices.h), with where the value came from.
absl::StatusOr<std::string> CanonStrategy(const std::string& v, const std::string& where) {
  absl::StatusOr<std::string> s = CanonicalStrategy(v);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "='", v, "' ", s.status().message()));
  }
  return s;
}

absl::StatusOr<std::string> CanonPrecision(const std::string& v, const std::string& where) {
  absl::StatusOr<std::string> p = CanonicalPrecision(v);
  if (!p.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "='", v, "' ", p.status().message()));
  }
  return p;
}

absl::StatusOr<std::string> CanonBackend(const std::string& v, const std::string& where) {
  std::string s = absl::AsciiStrToLower(v);
  if (s == "nccl" || s == "gloo") return s;
  return absl::InvalidArgumentError(absl::StrCat(where, "='", v, "' is not nccl or gloo"));
}

absl::StatusOr<std::string> CanonDevices(const std::string& v, const std::string& where) {
  std::string s = absl::AsciiStrToLower(v);
  if (s == "auto" || s == "-1") return std::string("auto");
  int n = 0;
  if (absl::SimpleAtoi(s, &n) && n >= 1) return absl::StrCat(n);
  // A GPU id list ("0,1,3") counts its entries.
  if (s.find(',') != std::string::npos) {
    int count = 0;
    for (const auto& part : absl::StrSplit(s, ',')) {
      int id = 0;
      if (!absl::SimpleAtoi(part, &id) || id < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "='", v, "' is not a device count, 'auto' or an id list"));
      }
      ++count;
    }
    return absl::StrCat(count);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, "='", v, "' is not a device count, 'auto' or an id list"));
}

absl::StatusOr<int> ParseIntVar(const EnvMap& env, const char* var) {
  auto v = Lookup(env, var);
  int n = 0;
  if (!v.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("worker environment: ", var, " is not set"));
  }
  if (!absl::SimpleAtoi(*v, &n) || n < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker environment: ", var, "='", *v, "' is not a non-negative integer"));
  }
  return n;
}

// srun started this process directly (no RANK): derive the torchrun variables.
absl::Status FillFromSlurm(const EnvMap& env, RuntimeConfig* c) {
  FABRIC_ASSIGN_OR_RETURN(c->rank, ParseIntVar(env, "SLURM_PROCID"));
  FABRIC_ASSIGN_OR_RETURN(c->world_size, ParseIntVar(env, "SLURM_NTASKS"));
  if (c->world_size < 1 || c->rank >= c->world_size) {
    return absl::InvalidArgumentError(absl::StrCat("worker environment: SLURM_PROCID=", c->rank,
                                                   " is not below SLURM_NTASKS=", c->world_size));
  }
  c->local_rank = 0;
  if (Lookup(env, "SLURM_LOCALID")) {
    FABRIC_ASSIGN_OR_RETURN(c->local_rank, ParseIntVar(env, "SLURM_LOCALID"));
  }
  c->num_nodes = 1;
  if (Lookup(env, "SLURM_NNODES")) {
    FABRIC_ASSIGN_OR_RETURN(c->num_nodes, ParseIntVar(env, "SLURM_NNODES"));
  }
  if (c->num_nodes < 1) c->num_nodes = 1;
  c->node_rank = 0;
  if (Lookup(env, "SLURM_NODEID")) {
    FABRIC_ASSIGN_OR_RETURN(c->node_rank, ParseIntVar(env, "SLURM_NODEID"));
  }
  c->local_world_size =
      c->world_size % c->num_nodes == 0 ? c->world_size / c->num_nodes : c->world_size;
  if (auto addr = Lookup(env, kEnvMasterAddr)) {
    c->master_addr = *addr;
  } else if (auto nodes = Lookup(env, "SLURM_JOB_NODELIST")) {
    FABRIC_ASSIGN_OR_RETURN(c->master_addr, FirstHostOfHostlist(*nodes));
  } else {
    return absl::InvalidArgumentError(
        "worker environment: under srun, set MASTER_ADDR or SLURM_JOB_NODELIST");
  }
  if (Lookup(env, kEnvMasterPort)) {
    FABRIC_ASSIGN_OR_RETURN(c->master_port, ParseIntVar(env, kEnvMasterPort));
    if (c->master_port < 1 || c->master_port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "worker environment: MASTER_PORT=", c->master_port, " is not a port (1-65535)"));
    }
  } else if (auto job = Lookup(env, "SLURM_JOB_ID")) {
    // Lightning's rule: the last 4 digits of the job id + 15000.
    std::string digits = job->size() > 4 ? job->substr(job->size() - 4) : *job;
    int tail = 0;
    if (!absl::SimpleAtoi(digits, &tail)) {
      return absl::InvalidArgumentError(
          absl::StrCat("worker environment: SLURM_JOB_ID='", *job, "' is not numeric"));
    }
    c->master_port = 15000 + tail;
  } else {
    return absl::InvalidArgumentError(
        "worker environment: under srun, set MASTER_PORT (or run inside a SLURM job)");
  }
  c->source = "slurm";
  return absl::OkStatus();
}

// Whether the launcher (or srun) narrowed this process's GPUs to its own one.
bool NarrowedToOwnGpu(const EnvMap& env, const std::string& source) {
  if (source == "slurm") return true;
  std::optional<std::string> visible = Lookup(env, kEnvCudaVisibleDevices);
  return visible.has_value() && visible->find(',') == std::string::npos;
}

// The accelerator, this rank's device and the c10d backend (ResolveConfig's rules, in
// config.h), into c->accelerator, device_index, backend. Reads c->local_rank,
// local_world_size and source.
absl::Status ResolveDevice(const FabricOptions& options, const EnvMap& env, const CudaProbe& cuda,
                           RuntimeConfig* c) {
  FABRIC_ASSIGN_OR_RETURN(std::string accel, Merge("accelerator", options.accelerator, env,
                                                   kEnvLtAccelerator, CanonAccelerator, "auto"));
  if (accel != "cpu" && cuda.devices == 0 && !cuda.init_error.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("accelerator '", accel, "': CUDA failed to initialise (", cuda.init_error,
                     "); fix the driver or GPU, or pass --accelerator cpu to train on the CPU"));
  }
  if (accel == "auto") accel = cuda.devices > 0 ? "cuda" : "cpu";
  if (accel == "cuda" && cuda.devices == 0) {
    return absl::FailedPreconditionError(
        "accelerator 'cuda' requested but this process sees no GPU (CUDA_VISIBLE_DEVICES, "
        "driver); use --accelerator cpu");
  }
  c->accelerator = accel == "cuda" ? Accelerator::kCuda : Accelerator::kCpu;
  std::string backend;
  if (options.process_group_backend.has_value()) {
    FABRIC_ASSIGN_OR_RETURN(backend, CanonBackend(*options.process_group_backend,
                                                  "FabricOptions.process_group_backend"));
  }
  if (backend.empty()) backend = c->accelerator == Accelerator::kCuda ? "nccl" : "gloo";
  if (backend == "nccl" && c->accelerator != Accelerator::kCuda) {
    return absl::InvalidArgumentError(
        "process_group_backend 'nccl' needs accelerator cuda; use gloo on cpu");
  }
  c->backend = backend;
  c->device_index = -1;
  if (c->accelerator != Accelerator::kCuda) return absl::OkStatus();
  // One GPU visible and narrowed to this rank: cuda:0. Otherwise cuda:LOCAL_RANK among
  // the visible ones (torchrun's and Lightning's rule).
  const bool own_gpu =
      cuda.devices == 1 && (c->local_rank == 0 || NarrowedToOwnGpu(env, c->source));
  if (own_gpu || c->local_rank < cuda.devices) {
    c->device_index = own_gpu ? 0 : c->local_rank;
    return absl::OkStatus();
  }
  if (backend == "gloo") {  // several ranks share a GPU over Gloo
    c->device_index = c->local_rank % cuda.devices;
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("LOCAL_RANK=", c->local_rank, " of ", c->local_world_size,
                   " workers on this node needs cuda:", c->local_rank, " but only ", cuda.devices,
                   " GPU", cuda.devices == 1 ? " is" : "s are",
                   " visible, and NCCL allows one rank per GPU ('Duplicate GPU'): start at most ",
                   cuda.devices, " workers on this node (--devices ", cuda.devices,
                   "), or set process_group_backend=gloo to share the GPUs"));
}

}  // namespace

std::string AcceleratorName(Accelerator a) { return a == Accelerator::kCuda ? "cuda" : "cpu"; }
std::string StrategyName(StrategyKind s) {
  switch (s) {
    case StrategyKind::kSingle: return "single_device";
    case StrategyKind::kDdp: return "ddp";
    case StrategyKind::kFsdp: return "fsdp";
  }
  return "?";
}

namespace {
constexpr std::pair<Precision, const char*> kPrecisionNames[] = {
    {Precision::k32True, "32-true"},   {Precision::k64True, "64-true"},
    {Precision::k16True, "16-true"},   {Precision::kBf16True, "bf16-true"},
    {Precision::k16Mixed, "16-mixed"}, {Precision::kBf16Mixed, "bf16-mixed"}};
}  // namespace

std::string PrecisionName(Precision p) {
  for (const auto& [value, name] : kPrecisionNames) {
    if (value == p) return name;
  }
  return "?";
}

bool IsMixed(Precision p) { return p == Precision::k16Mixed || p == Precision::kBf16Mixed; }

absl::StatusOr<std::string> FirstHostOfHostlist(const std::string& hostlist) {
  if (hostlist.empty()) return absl::InvalidArgumentError("hostlist is empty");
  size_t comma = hostlist.find(',');
  size_t bracket = hostlist.find('[');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return hostlist.substr(0, comma);
  }
  size_t close = hostlist.find(']', bracket);
  if (close == std::string::npos || close == bracket + 1) {
    return absl::InvalidArgumentError(absl::StrCat("hostlist '", hostlist, "' is malformed"));
  }
  std::string range = hostlist.substr(bracket + 1, close - bracket - 1);
  std::string first = range.substr(0, range.find_first_of(",-"));
  if (first.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("hostlist '", hostlist, "' is malformed"));
  }
  return hostlist.substr(0, bracket) + first;
}

absl::StatusOr<RuntimeConfig> ResolveConfig(const FabricOptions& options, const EnvMap& env,
                                            int cuda_devices) {
  return ResolveConfig(options, env, CudaProbe{cuda_devices, ""});
}

absl::Status CheckSpareBackend(const FabricOptions& options, const EnvMap& env,
                               const CudaProbe& cuda) {
  RuntimeConfig c;  // no rank yet: placed as local rank 0
  FABRIC_RETURN_IF_ERROR(ResolveDevice(options, env, cuda, &c));
  if (c.backend == "nccl") {
    return absl::FailedPreconditionError(
        "a spare (fabric-run --spares) takes part in in-place recovery, which needs "
        "process_group_backend=gloo: NCCL's communicator cannot be re-formed around a "
        "replacement yet; drop --spares (the gang restart covers NCCL) or use Gloo");
  }
  return absl::OkStatus();
}

absl::StatusOr<RuntimeConfig> ResolveConfig(const FabricOptions& options, const EnvMap& env,
                                            const CudaProbe& cuda) {
  RuntimeConfig c;
  if (Lookup(env, kEnvRank).has_value() || Lookup(env, kEnvWorldSize).has_value()) {
    FABRIC_ASSIGN_OR_RETURN(WorkerEnv w, WorkerEnv::FromEnvMap(env));
    c.rank = w.rank;
    c.world_size = w.world_size;
    c.local_rank = w.local_rank;
    c.local_world_size = w.local_world_size;
    c.node_rank = w.group_rank;
    c.num_nodes = w.group_world_size;
    c.master_addr = w.master_addr;
    c.master_port = w.master_port;
    c.source = "env";
  } else if (Lookup(env, "SLURM_PROCID").has_value()) {
    FABRIC_RETURN_IF_ERROR(FillFromSlurm(env, &c));
  }

  FABRIC_ASSIGN_OR_RETURN(std::string strategy, Merge("strategy", options.strategy, env,
                                                      kEnvLtStrategy, CanonStrategy, "auto"));
  FABRIC_ASSIGN_OR_RETURN(std::string precision, Merge("precision", options.precision, env,
                                                       kEnvLtPrecision, CanonPrecision, "32-true"));
  FABRIC_ASSIGN_OR_RETURN(std::string devices, Merge("devices", options.devices, env, kEnvLtDevices,
                                                     CanonDevices, "auto"));
  std::optional<std::string> code_nodes;
  if (options.num_nodes.has_value()) code_nodes = absl::StrCat(*options.num_nodes);
  auto canon_nodes = [](const std::string& v,
                        const std::string& where) -> absl::StatusOr<std::string> {
    int n = 0;
    if (!absl::SimpleAtoi(v, &n) || n < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "='", v, "' is not a node count (>= 1)"));
    }
    return absl::StrCat(n);
  };
  FABRIC_ASSIGN_OR_RETURN(std::string nodes_str,
                          Merge("num_nodes", code_nodes, env, kEnvLtNumNodes, canon_nodes, ""));

  FABRIC_RETURN_IF_ERROR(ResolveDevice(options, env, cuda, &c));

  if (devices != "auto") {
    int per_node = 0;
    absl::SimpleAtoi(devices, &per_node);
    if (c.source != "none" && per_node != c.local_world_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "devices=", per_node, " but the launcher started ", c.local_world_size,
          " processes on this node (LOCAL_WORLD_SIZE); pass the same --devices to the launcher"));
    }
    if (c.source == "none" && per_node != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("devices=", per_node, " needs ", per_node,
                       " processes: start the program with fabric-run --devices ", per_node));
    }
  }
  if (!nodes_str.empty()) {
    int nodes = 0;
    absl::SimpleAtoi(nodes_str, &nodes);
    if (nodes != c.num_nodes) {
      return absl::InvalidArgumentError(
          absl::StrCat("num_nodes=", nodes, " but the environment describes ", c.num_nodes,
                       " node(s) (GROUP_WORLD_SIZE); pass the same --num-nodes to the launcher"));
    }
  }

  if (strategy == "auto") strategy = c.world_size > 1 ? "ddp" : "single_device";
  if (strategy == "single_device" && c.world_size > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("strategy 'single_device' runs one process but WORLD_SIZE=", c.world_size,
                     "; use strategy ddp or fsdp, or launch one process"));
  }
  c.strategy = strategy == "fsdp" || strategy == "fsdp_cpu_offload" ? StrategyKind::kFsdp
               : strategy == "single_device"                        ? StrategyKind::kSingle
                                                                    : StrategyKind::kDdp;
  c.find_unused_parameters = strategy == "ddp_find_unused_parameters_true";

  for (const auto& [value, name] : kPrecisionNames) {
    if (precision == name) c.precision = value;
  }

  for (const char* var : {kEnvFabricRound, kEnvRestartCount}) {
    if (auto v = Lookup(env, var)) {
      if (!absl::SimpleAtoi(*v, &c.round) || c.round < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("worker environment: ", var, "='", *v, "' is not a non-negative integer"));
      }
      break;
    }
  }

  if (auto v = Lookup(env, kEnvFabricRecovery)) {
    if (*v != "in-place" && *v != "gang") {
      return absl::InvalidArgumentError(absl::StrCat("worker environment: ", kEnvFabricRecovery,
                                                     "='", *v, "' is not in-place or gang"));
    }
    c.recovery_in_place = *v == "in-place";
  }
  if (auto v = Lookup(env, kEnvFabricRecoveryReplacement)) c.replacement = *v == "1";
  if (auto v = Lookup(env, kEnvFabricRecoveryTimeout)) {
    double seconds = 0;
    if (!absl::SimpleAtod(*v, &seconds) || !(seconds > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("worker environment: ", kEnvFabricRecoveryTimeout, "='", *v,
                       "' is not a positive number of seconds"));
    }
    c.recovery_timeout = absl::Seconds(seconds);
  }
  if (c.recovery_in_place && c.backend == "nccl") {
    return absl::FailedPreconditionError(absl::StrCat(
        "in-place recovery (", kEnvFabricRecovery,
        "=in-place, fabric-run --recovery in-place) needs process_group_backend=gloo: "
        "NCCL's communicator cannot be re-formed around a replacement yet; use the gang "
        "restart (the default, --recovery gang), or Gloo"));
  }
  if (c.replacement && !c.recovery_in_place) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker environment: ", kEnvFabricRecoveryReplacement, " is set but ",
                     kEnvFabricRecovery, " is not in-place"));
  }

  c.fsdp = options.fsdp;
  c.fsdp.cpu_offload = options.fsdp.cpu_offload || strategy == "fsdp_cpu_offload";
  c.fsdp.bf16_gather = options.fsdp.bf16_gather || c.precision == Precision::kBf16Mixed;
  c.num_threads = options.num_threads;
  if (c.num_threads == 0) {
    if (auto omp = Lookup(env, kEnvOmpNumThreads)) {
      int n = 0;
      if (!absl::SimpleAtoi(*omp, &n) || n < 1) {
        return absl::InvalidArgumentError(absl::StrCat("worker environment: OMP_NUM_THREADS='",
                                                       *omp, "' is not a positive integer"));
      }
      c.num_threads = n;
    }
  }
  if (c.num_threads < 0) {
    return absl::InvalidArgumentError("FabricOptions.num_threads must be >= 0");
  }
  return c;
}

}  // namespace fabric::runtime
