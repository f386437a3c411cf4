#include "slurm/plan.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/run_id.h"
#include "common/status_macros.h"
#include "slurm/hostlist.h"

namespace fabric::slurm {
namespace {

absl::Status ValidateRequest(const PlanRequest& request) {
  if (request.devices && *request.devices < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--devices ", *request.devices, ": must be at least 1"));
  }
  if (request.num_nodes && *request.num_nodes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--num-nodes ", *request.num_nodes, ": must be at least 1"));
  }
  if (request.node_rank && *request.node_rank < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--node-rank ", *request.node_rank, ": must not be negative"));
  }
  if (request.main_address && request.main_address->empty()) {
    return absl::InvalidArgumentError("--main-address: must not be empty");
  }
  if (request.main_port && (*request.main_port < 1 || *request.main_port > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--main-port ", *request.main_port, ": must be in 1..65535"));
  }
  return absl::OkStatus();
}

std::string Plural(int n, absl::string_view word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

std::string NodeName(const SlurmJob& job, int node) {
  if (node == job.nodeid) return job.ThisNodeName();
  if (node >= 0 && node < static_cast<int>(job.nodes.size())) return job.nodes[node];
  return absl::StrCat("node ", node);
}

SlurmPlan OutsideSrun(const SlurmJob& job) {
  SlurmPlan plan;
  plan.layout = Layout::kNotSlurm;
  if (job.context == SlurmContext::kNotSlurm) {
    plan.note = "not running under SLURM";
  } else {
    plan.note = absl::StrFormat(
        "SLURM job %d: in the %s, not an srun step: launching on this node only%s", job.job_id,
        SlurmContextName(job.context),
        job.nnodes > 1 ? absl::StrFormat(" (the allocation has %d nodes: run `srun fabric-run "
                                         "...` to use them all)",
                                         job.nnodes)
                       : "");
  }
  return plan;
}

// --devices D against the step's tasks per node.
absl::Status DevicesMismatch(const SlurmJob& job, int devices) {
  int node = job.nodeid;
  if (job.TasksOnThisNode() == devices) {
    for (int i = 0; i < static_cast<int>(job.tasks_per_node.size()); ++i) {
      if (job.tasks_per_node[i] != devices) {
        node = i;
        break;
      }
    }
  }
  const bool heterogeneous =
      std::adjacent_find(job.tasks_per_node.begin(), job.tasks_per_node.end(),
                         std::not_equal_to<int>()) != job.tasks_per_node.end();
  return absl::FailedPreconditionError(absl::StrFormat(
      "--devices %d but this srun step runs %s on node %d (%s)%s: set `#SBATCH "
      "--ntasks-per-node=%d` (one task per device) or `--ntasks-per-node=1` (one task per "
      "node, fabric-run spawns the %d workers)",
      devices, Plural(job.tasks_per_node[node], "task"), node, NodeName(job, node),
      heterogeneous ? absl::StrCat(" (tasks per node: ", job.tasks_per_node_spec, ")") : "",
      devices, devices));
}

// The device count when --devices was not given and every node runs one task.
absl::StatusOr<int> DefaultDevices(const SlurmJob& job, const PlanRequest& request) {
  if (request.accelerator != "cuda") return 1;
  std::optional<int> gpus = job.VisibleGpuCount();
  std::string source = job.GpuSource();
  if (!gpus && request.detected_gpus) {
    gpus = request.detected_gpus;
    source = "detected by fabric-run";
  }
  if (!gpus) {
    return absl::FailedPreconditionError(
        "--accelerator cuda but SLURM set none of CUDA_VISIBLE_DEVICES / SLURM_GPUS_ON_NODE / "
        "SLURM_STEP_GPUS for this task: request GPUs with `#SBATCH --gpus-per-node=N`, or "
        "pass --devices N");
  }
  if (*gpus < 1) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "--accelerator cuda but SLURM gave node %d (%s) no GPU (%s): request GPUs with "
        "`#SBATCH --gpus-per-node=N`",
        job.nodeid, job.ThisNodeName(), source));
  }
  return *gpus;
}

// With cuda, the GPUs SLURM gave this node must cover the workers that use them.
absl::Status CheckGpus(const SlurmJob& job, const PlanRequest& request, Layout layout,
                       int local_workers) {
  if (request.accelerator != "cuda") return absl::OkStatus();
  const std::optional<int> gpus = job.VisibleGpuCount();
  if (!gpus) return absl::OkStatus();  // SLURM said nothing: nothing to check against
  if (*gpus < 1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("--accelerator cuda but SLURM gave node %d (%s) no GPU (%s): add `#SBATCH "
                        "--gpus-per-node=%d`",
                        job.nodeid, job.ThisNodeName(), job.GpuSource(), local_workers));
  }
  if (layout == Layout::kTaskPerDevice) {
    // One GPU per task (--gpus-per-task=1) or all of the node's GPUs in every task.
    if (*gpus == 1 || *gpus >= local_workers) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s on node %d (%s) but SLURM gave them %s (%s): set `#SBATCH --gpus-per-node=%d` "
        "(or `--gpus-per-task=1`)",
        Plural(local_workers, "task"), job.nodeid, job.ThisNodeName(), Plural(*gpus, "GPU"),
        job.GpuSource(), local_workers));
  }
  if (*gpus >= local_workers) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "--devices %d but SLURM gave node %d (%s) %s (%s): set `#SBATCH --gpus-per-node=%d`, or "
      "pass --devices %d",
      local_workers, job.nodeid, job.ThisNodeName(), Plural(*gpus, "GPU"), job.GpuSource(),
      local_workers, *gpus));
}

WorkerEnv TaskWorkerEnv(const SlurmJob& job, const PlanRequest& request, const SlurmPlan& plan) {
  WorkerEnv env;
  env.rank = job.procid;
  env.local_rank = job.localid;
  env.world_size = job.ntasks;
  env.local_world_size = plan.local_world_size;
  env.group_rank = job.nodeid;
  env.group_world_size = job.nnodes;
  env.master_addr = plan.main_address;
  env.master_port = plan.main_port;
  env.run_id = plan.run_id;
  env.restart_count = 0;
  env.max_restarts = 0;  // srun owns the tasks; a failed step is requeued, not restarted
  if (request.accelerator_given) env.accelerator = request.accelerator;
  env.strategy = request.strategy;
  env.devices = absl::StrCat(plan.local_world_size);
  env.precision = request.precision;
  if (!job.omp_num_threads_set) {
    if (job.cpus_per_task) {
      env.omp_num_threads = absl::StrCat(*job.cpus_per_task);
    } else if (plan.local_world_size > 1) {
      env.omp_num_threads = "1";
    }
  }
  return env;
}

// Picks the layout (the table in doc/slurm.md) and, for task per node, the devices.
absl::Status ChooseLayout(const SlurmJob& job, const PlanRequest& request, Layout* layout,
                          int* devices) {
  const auto& counts = job.tasks_per_node;
  const bool one_task_everywhere =
      std::all_of(counts.begin(), counts.end(), [](int c) { return c == 1; });

  if (request.devices) {
    const int wanted = *devices = *request.devices;
    const bool matches_everywhere =
        std::all_of(counts.begin(), counts.end(), [wanted](int c) { return c == wanted; });
    if (matches_everywhere) {
      *layout = Layout::kTaskPerDevice;
    } else if (one_task_everywhere) {
      *layout = Layout::kTaskPerNode;
    } else {
      return DevicesMismatch(job, wanted);
    }
  } else if (!one_task_everywhere) {
    *layout = Layout::kTaskPerDevice;  // heterogeneous counts allowed
  } else {
    FABRIC_ASSIGN_OR_RETURN(*devices, DefaultDevices(job, request));
    *layout = *devices == 1 ? Layout::kTaskPerDevice : Layout::kTaskPerNode;
  }
  return absl::OkStatus();
}

// Ranks of nodes, main address and port, run id: the same for every layout.
void FillCommon(const SlurmJob& job, const PlanRequest& request, SlurmPlan* plan) {
  plan->node_rank = job.nodeid;
  plan->num_nodes = job.nnodes;
  plan->nodes = job.nodes;
  plan->main_address = request.main_address.value_or(job.nodes.front());
  if (request.main_port) {
    plan->main_port = *request.main_port;
    plan->port_source = PortSource::kFlag;
  } else if (job.master_port) {
    plan->main_port = *job.master_port;
    plan->port_source = PortSource::kMasterPortEnv;
  } else {
    plan->main_port = DeriveMainPort(job.job_id, job.step_id.value_or(0));
    plan->port_source = PortSource::kDerived;
  }
  plan->run_id =
      request.run_id.empty() ? SlurmRunId(job.job_id, job.step_id.value_or(0)) : request.run_id;
}

}  // namespace

int DeriveMainPort(int64_t job_id, int64_t step_id) {
  // Unsigned arithmetic: wraps instead of overflowing for any ids.
  const uint64_t mixed = static_cast<uint64_t>(job_id) % kDerivedPortRange * 1009u +
                         static_cast<uint64_t>(step_id) % kDerivedPortRange;
  return kDerivedPortBase + static_cast<int>(mixed % kDerivedPortRange);
}

absl::string_view LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kNotSlurm: return "not-slurm";
    case Layout::kTaskPerDevice: return "task-per-device";
    case Layout::kTaskPerNode: return "task-per-node";
  }
  return "unknown";
}

absl::string_view PortSourceName(PortSource source) {
  switch (source) {
    case PortSource::kFlag: return "--main-port";
    case PortSource::kMasterPortEnv: return "MASTER_PORT";
    case PortSource::kDerived: return "derived from job and step id";
  }
  return "unknown";
}

absl::StatusOr<SlurmPlan> PlanLaunch(const SlurmJob& job, const PlanRequest& request) {
  FABRIC_RETURN_IF_ERROR(ValidateRequest(request));
  if (job.context != SlurmContext::kSrunTask) {
    if (job.context != SlurmContext::kNotSlurm && request.num_nodes && *request.num_nodes > 1) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "--num-nodes %d in the %s of SLURM job %d, outside srun: only this node would start "
          "and it would wait for the others forever; start one task per node with `srun "
          "--ntasks-per-node=1 fabric-run ...` (or one per device with `#SBATCH "
          "--ntasks-per-node=<devices>` and `srun fabric-run ...`)",
          *request.num_nodes, SlurmContextName(job.context), job.job_id));
    }
    return OutsideSrun(job);
  }
  if (job.nodes.empty() || job.tasks_per_node.size() != static_cast<size_t>(job.nnodes)) {
    return absl::InvalidArgumentError("SLURM environment: the step has no usable nodelist");
  }
  if (request.num_nodes && *request.num_nodes != job.nnodes) {
    std::string hosts = CompressHostlist(job.nodes).value_or(job.nodelist);
    return absl::FailedPreconditionError(absl::StrFormat(
        "--num-nodes %d but this srun step runs on %s (%s): set `#SBATCH --nodes=%d` (and "
        "`srun -N %d` if you pass -N), or pass --num-nodes %d",
        *request.num_nodes, Plural(job.nnodes, "node"), hosts, *request.num_nodes,
        *request.num_nodes, job.nnodes));
  }
  if (request.node_rank && *request.node_rank != job.nodeid) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "--node-rank %d but this srun task runs on node %d (%s, SLURM_NODEID=%d): drop "
        "--node-rank under srun, SLURM numbers the nodes",
        *request.node_rank, job.nodeid, job.ThisNodeName(), job.nodeid));
  }
  SlurmPlan plan;
  int devices = 0;
  FABRIC_RETURN_IF_ERROR(ChooseLayout(job, request, &plan.layout, &devices));
  FillCommon(job, request, &plan);

  if (plan.layout == Layout::kTaskPerDevice) {
    plan.local_world_size = job.TasksOnThisNode();
    FABRIC_RETURN_IF_ERROR(CheckGpus(job, request, plan.layout, plan.local_world_size));
    if (job.procid == 0 && job.nodeid != 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "SLURM placed task 0 on node %d (%s), not on the step's first host %s, which would "
          "be MASTER_ADDR: use the default block distribution (drop `--distribution`/`-m`, "
          "or pass `-m block`)",
          job.nodeid, job.ThisNodeName(), job.nodes.front()));
    }
    plan.world_size = job.ntasks;
    plan.global_rank = job.procid;
    plan.local_rank = job.localid;
    plan.binds_main_port = job.procid == 0;
    plan.worker_env = TaskWorkerEnv(job, request, plan);
  } else {
    plan.local_world_size = devices;
    FABRIC_RETURN_IF_ERROR(CheckGpus(job, request, plan.layout, devices));
    plan.world_size = devices * job.nnodes;  // the rendezvous has the final word
    plan.binds_main_port = job.nodeid == 0;
  }
  return plan;
}

absl::Status VerifyMainPort(const SlurmPlan& plan,
                            const std::function<absl::Status(int)>& check_port_free) {
  if (plan.layout == Layout::kNotSlurm || !plan.binds_main_port) return absl::OkStatus();
  absl::Status free = check_port_free(plan.main_port);
  if (free.ok()) return free;
  const std::string fix =
      plan.port_source == PortSource::kFlag
          ? "pass another --main-port"
          : "export MASTER_PORT=<free port> in the sbatch script, or pass --main-port";
  return absl::FailedPreconditionError(
      absl::StrFormat("main port %d (%s) is not free on %s (%s): %s", plan.main_port,
                      PortSourceName(plan.port_source), plan.main_address, free.message(), fix));
}

absl::StatusOr<SlurmPlan> PlanLaunchFromEnv(const EnvMap& env, const PlanRequest& request) {
  FABRIC_ASSIGN_OR_RETURN(SlurmJob job, ParseSlurmJob(env));
  return PlanLaunch(job, request);
}

std::string DescribePlan(const SlurmPlan& plan) {
  if (plan.layout == Layout::kNotSlurm) {
    return absl::StrCat("layout=not-slurm note=\"", plan.note, "\"");
  }
  std::string out =
      absl::StrFormat("layout=%s node_rank=%d num_nodes=%d local_world_size=%d world_size=%d",
                      LayoutName(plan.layout), plan.node_rank, plan.num_nodes,
                      plan.local_world_size, plan.world_size);
  if (plan.global_rank) absl::StrAppend(&out, " rank=", *plan.global_rank);
  if (plan.local_rank) absl::StrAppend(&out, " local_rank=", *plan.local_rank);
  absl::StrAppend(&out, " main_address=", plan.main_address, " main_port=", plan.main_port,
                  " port_source=\"", PortSourceName(plan.port_source), "\"",
                  " binds_main_port=", plan.binds_main_port ? "1" : "0", " run_id=", plan.run_id,
                  " nodes=", CompressHostlist(plan.nodes).value_or("?"));
  return out;
}

}  // namespace fabric::slurm
