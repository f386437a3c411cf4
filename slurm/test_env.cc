#include "slurm/test_env.h"

#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "slurm/hostlist.h"

namespace fabric::slurm::testing {
namespace {

EnvMap JobEnv(const StepSpec& spec) {
  const std::vector<std::string> nodes = ExpandHostlist(spec.nodelist).value();
  const std::vector<int> counts = DecodeTasksPerNode(spec.tasks_per_node).value();
  const int ntasks = std::accumulate(counts.begin(), counts.end(), 0);
  EnvMap env = {
      {"SLURM_JOB_ID", absl::StrCat(spec.job_id)},
      {"SLURM_JOBID", absl::StrCat(spec.job_id)},
      {"SLURM_JOB_NAME", spec.job_name},
      {"SLURM_JOB_NODELIST", spec.nodelist},
      {"SLURM_NODELIST", spec.nodelist},
      {"SLURM_JOB_NUM_NODES", absl::StrCat(nodes.size())},
      {"SLURM_NNODES", absl::StrCat(nodes.size())},
      {"SLURM_NTASKS", absl::StrCat(ntasks)},
      {"SLURM_NPROCS", absl::StrCat(ntasks)},
      {"SLURM_TASKS_PER_NODE", spec.tasks_per_node},
      {"SLURM_JOB_CPUS_PER_NODE", spec.tasks_per_node},
      {"SLURM_JOB_PARTITION", "debug"},
      {"SLURM_SUBMIT_HOST", "login1"},
      {"SLURM_CLUSTER_NAME", "cluster"},
      {"PATH", "/usr/bin:/bin"},
      {"HOME", "/root"},
  };
  return env;
}

}  // namespace

StepSpec Spec(const std::string& nodelist, const std::string& tasks_per_node) {
  StepSpec spec;
  spec.nodelist = nodelist;
  spec.tasks_per_node = tasks_per_node;
  return spec;
}

EnvMap SrunTaskEnv(const StepSpec& spec, int procid) {
  const std::vector<std::string> nodes = ExpandHostlist(spec.nodelist).value();
  const std::vector<int> counts = DecodeTasksPerNode(spec.tasks_per_node).value();
  int nodeid = 0;
  int first = 0;  // first procid on `nodeid`
  while (procid >= first + counts[nodeid]) first += counts[nodeid++];
  std::vector<std::string> gtids;
  for (int i = 0; i < counts[nodeid]; ++i) gtids.push_back(absl::StrCat(first + i));
  const int ntasks = std::accumulate(counts.begin(), counts.end(), 0);
  EnvMap env = JobEnv(spec);
  env.insert({
      {"SLURM_STEP_ID", absl::StrCat(spec.step_id)},
      {"SLURM_STEPID", absl::StrCat(spec.step_id)},
      {"SLURM_PROCID", absl::StrCat(procid)},
      {"SLURM_LOCALID", absl::StrCat(procid - first)},
      {"SLURM_NODEID", absl::StrCat(nodeid)},
      {"SLURM_STEP_NODELIST", spec.nodelist},
      {"SLURM_STEP_NUM_NODES", absl::StrCat(nodes.size())},
      {"SLURM_STEP_NUM_TASKS", absl::StrCat(ntasks)},
      {"SLURM_STEP_TASKS_PER_NODE", spec.tasks_per_node},
      {"SLURMD_NODENAME", nodes[nodeid]},
      {"SLURM_CPUS_ON_NODE", absl::StrCat(counts[nodeid])},
      {"SLURM_GTIDS", absl::StrJoin(gtids, ",")},
      {"SLURM_LAUNCH_NODE_IPADDR", "10.0.0.254"},
      {"SLURM_SRUN_COMM_HOST", "10.0.0.254"},
      {"SLURM_TOPOLOGY_ADDR", nodes[nodeid]},
  });
  return env;
}

EnvMap BatchScriptEnv(const StepSpec& spec) {
  EnvMap env = JobEnv(spec);
  env["SLURM_PROCID"] = "0";
  env["SLURM_LOCALID"] = "0";
  env["SLURM_NODEID"] = "0";
  env["SLURMD_NODENAME"] = ExpandHostlist(spec.nodelist).value().front();
  return env;
}

EnvMap AllocationShellEnv(const StepSpec& spec) { return JobEnv(spec); }

}  // namespace fabric::slurm::testing
