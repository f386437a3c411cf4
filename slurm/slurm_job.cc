#include "slurm/slurm_job.h"

#include <numeric>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "slurm/hostlist.h"

namespace fabric::slurm {
namespace {

// Alternative spellings of one variable, preferred first. (A vector, not an
// initializer_list: those dangle when chosen by a conditional expression.)
using Names = std::vector<const char*>;

// The first of `names` present in `env` (even if empty), or nullptr.
const std::pair<const std::string, std::string>* Find(const EnvMap& env, const Names& names) {
  for (const char* name : names) {
    auto it = env.find(name);
    if (it != env.end()) return &*it;
  }
  return nullptr;
}

std::string NameList(const Names& names) {
  std::string out;
  for (const char* name : names) absl::StrAppend(&out, out.empty() ? "" : " / ", name);
  return out;
}

// Reads the first present of `names` as an integer in [min, max]. Missing: nullopt.
absl::StatusOr<std::optional<int64_t>> GetInt(const EnvMap& env, const Names& names, int64_t min,
                                              int64_t max) {
  const auto* entry = Find(env, names);
  if (entry == nullptr) return std::optional<int64_t>();
  int64_t value = 0;
  if (!absl::SimpleAtoi(entry->second, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("environment: ", entry->first, "=\"",
                                                   entry->second, "\" is not an integer in ", min,
                                                   "..", max));
  }
  return std::optional<int64_t>(value);
}

absl::StatusOr<int64_t> RequireInt(const EnvMap& env, const Names& names, int64_t min,
                                   int64_t max) {
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> value, GetInt(env, names, min, max));
  if (!value) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SLURM environment: ", NameList(names),
        " is not set although SLURM_STEP_ID is (an srun task): run fabric-run under srun, "
        "or unset SLURM_STEP_ID if this environment was copied from one"));
  }
  return *value;
}

std::string GetString(const EnvMap& env, const Names& names) {
  const auto* entry = Find(env, names);
  return entry == nullptr ? "" : entry->second;
}

int CountListEntries(absl::string_view list) {
  int count = 0;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    if (!absl::StripAsciiWhitespace(entry).empty()) ++count;
  }
  return count;
}

constexpr int kMaxCount = 1 << 20;

// Fills nodes, nodelist and nnodes; `in_step` makes them mandatory.
absl::Status ParseNodes(const EnvMap& env, bool in_step, SlurmJob* job) {
  const auto* step_list = Find(env, {"SLURM_STEP_NODELIST"});
  const auto* list = in_step && step_list != nullptr
                         ? step_list
                         : Find(env, {"SLURM_JOB_NODELIST", "SLURM_NODELIST"});
  if (list == nullptr) {
    if (in_step) {
      return absl::InvalidArgumentError(
          "SLURM environment: none of SLURM_STEP_NODELIST / SLURM_JOB_NODELIST / "
          "SLURM_NODELIST is set in an srun task");
    }
  } else {
    job->nodelist = list->second;
    job->nodelist_is_step = list == step_list;
    absl::StatusOr<std::vector<std::string>> nodes = ExpandHostlist(list->second);
    if (!nodes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLURM environment: ", list->first, ": ", nodes.status().message()));
    }
    job->nodes = *std::move(nodes);
  }

  const Names node_names = in_step ? Names{"SLURM_STEP_NUM_NODES", "SLURM_NNODES"}
                                   : Names{"SLURM_JOB_NUM_NODES", "SLURM_NNODES"};
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> nnodes, GetInt(env, node_names, 1, kMaxCount));
  if (in_step && !nnodes) {
    FABRIC_ASSIGN_OR_RETURN(nnodes, RequireInt(env, node_names, 1, kMaxCount));
  }
  job->nnodes =
      nnodes ? static_cast<int>(*nnodes) : std::max<int>(1, static_cast<int>(job->nodes.size()));
  if (job->nodelist_is_step && static_cast<int>(job->nodes.size()) != job->nnodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("SLURM environment: SLURM_STEP_NODELIST=\"", job->nodelist, "\" names ",
                     job->nodes.size(), " hosts but the step has ", job->nnodes, " nodes"));
  }
  return absl::OkStatus();
}

// Fills ntasks and tasks_per_node (REQUIRES: ParseNodes done); in a step they must be
// consistent with each other and with nnodes.
absl::Status ParseTaskCounts(const EnvMap& env, bool in_step, SlurmJob* job) {
  const Names task_names = in_step ? Names{"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"}
                                   : Names{"SLURM_NTASKS", "SLURM_NPROCS"};
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> ntasks, GetInt(env, task_names, 1, kMaxCount));
  if (in_step && !ntasks) {
    FABRIC_ASSIGN_OR_RETURN(ntasks, RequireInt(env, task_names, 1, kMaxCount));
  }
  const Names tpn_names = in_step ? Names{"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"}
                                  : Names{"SLURM_TASKS_PER_NODE"};
  const auto* tpn = Find(env, tpn_names);
  if (tpn != nullptr) {
    absl::StatusOr<std::vector<int>> counts = DecodeTasksPerNode(tpn->second);
    if (!counts.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLURM environment: ", tpn->first, ": ", counts.status().message()));
    }
    job->tasks_per_node = *std::move(counts);
    job->tasks_per_node_spec = tpn->second;
    if (static_cast<int>(job->tasks_per_node.size()) != job->nnodes) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLURM environment: ", tpn->first, "=\"", tpn->second, "\" describes ",
                       job->tasks_per_node.size(), " nodes but there are ", job->nnodes));
    }
  }
  const int sum = std::accumulate(job->tasks_per_node.begin(), job->tasks_per_node.end(), 0);
  job->ntasks = ntasks ? static_cast<int>(*ntasks) : std::max(1, sum);
  if (tpn == nullptr) {
    if (job->ntasks % job->nnodes != 0 && in_step) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLURM environment: SLURM_STEP_TASKS_PER_NODE is not set and ", job->ntasks,
                       " tasks do not divide evenly over ", job->nnodes, " nodes"));
    }
    job->tasks_per_node.assign(job->nnodes, std::max(1, job->ntasks / job->nnodes));
    job->tasks_per_node_spec = EncodeTasksPerNode(job->tasks_per_node);
  } else if (in_step && sum != job->ntasks) {
    return absl::InvalidArgumentError(absl::StrCat("SLURM environment: ", tpn->first, "=\"",
                                                   tpn->second, "\" adds up to ", sum,
                                                   " tasks but the step has ", job->ntasks));
  }
  return absl::OkStatus();
}

absl::Status ParseLayout(const EnvMap& env, bool in_step, SlurmJob* job) {
  FABRIC_RETURN_IF_ERROR(ParseNodes(env, in_step, job));
  return ParseTaskCounts(env, in_step, job);
}

absl::Status ParseTask(const EnvMap& env, SlurmJob* job) {
  FABRIC_ASSIGN_OR_RETURN(job->step_id,
                          RequireInt(env, {"SLURM_STEP_ID", "SLURM_STEPID"}, 0, INT64_MAX));
  FABRIC_ASSIGN_OR_RETURN(int64_t procid, RequireInt(env, {"SLURM_PROCID"}, 0, kMaxCount));
  FABRIC_ASSIGN_OR_RETURN(int64_t localid, RequireInt(env, {"SLURM_LOCALID"}, 0, kMaxCount));
  FABRIC_ASSIGN_OR_RETURN(int64_t nodeid, RequireInt(env, {"SLURM_NODEID"}, 0, kMaxCount));
  job->procid = static_cast<int>(procid);
  job->localid = static_cast<int>(localid);
  job->nodeid = static_cast<int>(nodeid);
  FABRIC_RETURN_IF_ERROR(ParseLayout(env, /*in_step=*/true, job));
  if (job->procid >= job->ntasks) {
    return absl::InvalidArgumentError(absl::StrCat("SLURM environment: SLURM_PROCID=", procid,
                                                   " is not below the step's ", job->ntasks,
                                                   " tasks"));
  }
  if (job->nodeid >= job->nnodes) {
    return absl::InvalidArgumentError(absl::StrCat("SLURM environment: SLURM_NODEID=", nodeid,
                                                   " is not below the step's ", job->nnodes,
                                                   " nodes"));
  }
  if (job->localid >= job->TasksOnThisNode()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SLURM environment: SLURM_LOCALID=", localid, " is not below the ", job->TasksOnThisNode(),
        " tasks of node ", nodeid, " (tasks per node \"", job->tasks_per_node_spec, "\")"));
  }
  job->node_name = GetString(env, {"SLURMD_NODENAME"});
  return absl::OkStatus();
}

}  // namespace

absl::string_view SlurmContextName(SlurmContext context) {
  switch (context) {
    case SlurmContext::kNotSlurm: return "not SLURM";
    case SlurmContext::kAllocationShell: return "salloc shell";
    case SlurmContext::kBatchScript: return "batch script";
    case SlurmContext::kSrunTask: return "srun task";
  }
  return "unknown";
}

SlurmContext DetectSlurmContext(const EnvMap& env) {
  const bool has_job = Find(env, {"SLURM_JOB_ID", "SLURM_JOBID"}) != nullptr;
  const bool has_step = Find(env, {"SLURM_STEP_ID", "SLURM_STEPID"}) != nullptr;
  const bool has_procid = env.count("SLURM_PROCID") > 0;
  if (!has_job) return SlurmContext::kNotSlurm;
  if (has_step && has_procid) return SlurmContext::kSrunTask;
  if (has_procid) return SlurmContext::kBatchScript;
  return SlurmContext::kAllocationShell;
}

int SlurmJob::TasksOnThisNode() const {
  if (nodeid < 0 || nodeid >= static_cast<int>(tasks_per_node.size())) return 1;
  return tasks_per_node[nodeid];
}

std::string SlurmJob::ThisNodeName() const {
  if (!node_name.empty()) return node_name;
  if (nodeid >= 0 && nodeid < static_cast<int>(nodes.size())) return nodes[nodeid];
  return absl::StrCat("node ", nodeid);
}

// SLURM writes this when a GPU GRES has no device files: it says nothing about counts.
constexpr char kNoDevFiles[] = "NoDevFiles";

std::optional<int> SlurmJob::VisibleGpuCount() const {
  if (cuda_visible_devices && *cuda_visible_devices != kNoDevFiles) {
    return CountListEntries(*cuda_visible_devices);
  }
  if (gpus_on_node) return *gpus_on_node;
  if (step_gpus) return CountListEntries(*step_gpus);
  return std::nullopt;
}

std::string SlurmJob::GpuSource() const {
  if (cuda_visible_devices && *cuda_visible_devices != kNoDevFiles)
    return absl::StrCat("CUDA_VISIBLE_DEVICES=", *cuda_visible_devices);
  if (gpus_on_node) return absl::StrCat("SLURM_GPUS_ON_NODE=", *gpus_on_node);
  if (step_gpus) return absl::StrCat("SLURM_STEP_GPUS=", *step_gpus);
  return "";
}

absl::StatusOr<SlurmJob> ParseSlurmJob(const EnvMap& env) {
  SlurmJob job;
  job.context = DetectSlurmContext(env);
  if (job.context == SlurmContext::kNotSlurm) return job;
  FABRIC_ASSIGN_OR_RETURN(job.job_id,
                          RequireInt(env, {"SLURM_JOB_ID", "SLURM_JOBID"}, 0, INT64_MAX));
  if (job.context == SlurmContext::kSrunTask) {
    FABRIC_RETURN_IF_ERROR(ParseTask(env, &job));
  } else {
    FABRIC_RETURN_IF_ERROR(ParseLayout(env, /*in_step=*/false, &job));
  }
  job.job_name = GetString(env, {"SLURM_JOB_NAME"});
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> tpn,
                          GetInt(env, {"SLURM_NTASKS_PER_NODE"}, 1, kMaxCount));
  if (tpn) job.ntasks_per_node = static_cast<int>(*tpn);
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> cpt,
                          GetInt(env, {"SLURM_CPUS_PER_TASK"}, 1, kMaxCount));
  if (cpt) job.cpus_per_task = static_cast<int>(*cpt);
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> gpus,
                          GetInt(env, {"SLURM_GPUS_ON_NODE"}, 0, kMaxCount));
  if (gpus) job.gpus_on_node = static_cast<int>(*gpus);
  if (const auto* e = Find(env, {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"})) job.step_gpus = e->second;
  if (const auto* e = Find(env, {"CUDA_VISIBLE_DEVICES"})) job.cuda_visible_devices = e->second;
  FABRIC_ASSIGN_OR_RETURN(std::optional<int64_t> port, GetInt(env, {"MASTER_PORT"}, 1, 65535));
  if (port) job.master_port = static_cast<int>(*port);
  job.omp_num_threads_set = env.count("OMP_NUM_THREADS") > 0;
  return job;
}

}  // namespace fabric::slurm
