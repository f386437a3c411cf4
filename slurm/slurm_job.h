// SlurmJob: what SLURM's environment says about the current process, parsed from an
// environment map (never getenv).
//
// Where we are is decided by the variables SLURM sets (see doc/slurm.md):
//   - an srun task:      SLURM_STEP_ID (or SLURM_STEPID) and SLURM_PROCID;
//   - a batch script:    SLURM_JOB_ID and SLURM_PROCID, no step;
//   - an salloc shell:   SLURM_JOB_ID, neither SLURM_PROCID nor a step;
//   - not SLURM:         no SLURM_JOB_ID (SLURM_JOBID).
// The job name is never used for detection ("bash" under salloc misled Lightning).
//
// Thread safety: pure functions on values.
#ifndef FABRIC_SLURM_SLURM_JOB_H_
#define FABRIC_SLURM_SLURM_JOB_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/worker_env.h"

namespace fabric::slurm {

enum class SlurmContext {
  kNotSlurm,
  kAllocationShell,  // salloc (or any shell holding an allocation, outside srun)
  kBatchScript,      // the sbatch script itself
  kSrunTask,         // one task of an srun step
};

// "not SLURM", "salloc shell", "batch script", "srun task".
absl::string_view SlurmContextName(SlurmContext context);

// Classifies `env` by the rules above. Never fails.
SlurmContext DetectSlurmContext(const EnvMap& env);

struct SlurmJob {
  SlurmContext context = SlurmContext::kNotSlurm;
  int64_t job_id = 0;
  std::optional<int64_t> step_id;  // set for kSrunTask only
  // This task. Outside srun: 0 (the batch script is SLURM_PROCID 0).
  int procid = 0;   // SLURM_PROCID: global task index in the step
  int localid = 0;  // SLURM_LOCALID: task index on this node
  int nodeid = 0;   // SLURM_NODEID: index of this node in `nodes`
  // The step (srun task) or the job (outside srun).
  int ntasks = 1;  // SLURM_STEP_NUM_TASKS / SLURM_NTASKS / SLURM_NPROCS
  int nnodes = 1;  // SLURM_STEP_NUM_NODES / SLURM_NNODES / SLURM_JOB_NUM_NODES
  // Decoded SLURM_STEP_TASKS_PER_NODE (else SLURM_TASKS_PER_NODE), one entry per
  // node of `nodes`; in an srun task its sum is `ntasks`.
  std::vector<int> tasks_per_node;
  std::string tasks_per_node_spec;  // as SLURM wrote it, for messages
  // Expanded SLURM_STEP_NODELIST (else SLURM_JOB_NODELIST / SLURM_NODELIST).
  std::vector<std::string> nodes;
  std::string nodelist;  // as SLURM wrote it, for messages
  bool nodelist_is_step = false;
  std::string job_name;                // SLURM_JOB_NAME (informational only)
  std::string node_name;               // SLURMD_NODENAME (empty outside srun)
  std::optional<int> ntasks_per_node;  // SLURM_NTASKS_PER_NODE (only if the user passed it)
  std::optional<int> cpus_per_task;    // SLURM_CPUS_PER_TASK
  // GPUs as SLURM set them.
  std::optional<int> gpus_on_node;                  // SLURM_GPUS_ON_NODE
  std::optional<std::string> step_gpus;             // SLURM_STEP_GPUS (else SLURM_JOB_GPUS)
  std::optional<std::string> cuda_visible_devices;  // CUDA_VISIBLE_DEVICES
  // Not SLURM's but read here so that planning needs nothing else from the env.
  std::optional<int> master_port;  // MASTER_PORT, validated 1..65535
  bool omp_num_threads_set = false;

  // Tasks on this task's node (tasks_per_node[nodeid]); 1 when unknown.
  int TasksOnThisNode() const;
  // This node's name: SLURMD_NODENAME, else nodes[nodeid], else "node <nodeid>".
  std::string ThisNodeName() const;
  // GPUs this task may use, as SLURM set them: the entries of CUDA_VISIBLE_DEVICES when
  // set (SLURM sets it from --gpus*; its "NoDevFiles" counts as unset), else SLURM_GPUS_ON_NODE,
  // else the entries of SLURM_STEP_GPUS; nullopt when SLURM said nothing about GPUs.
  std::optional<int> VisibleGpuCount() const;
  // "CUDA_VISIBLE_DEVICES=0,1" / "SLURM_GPUS_ON_NODE=2" / ...: where VisibleGpuCount
  // came from, for messages; empty when nullopt.
  std::string GpuSource() const;
};

// Parses `env`. kNotSlurm gives a default SlurmJob with only `context` set. In an srun
// task, SLURM_JOB_ID, SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID, the task and node counts
// and a nodelist are required and must be consistent (procid < ntasks, nodeid < nnodes,
// one tasks-per-node entry per node summing to ntasks, localid below this node's count).
// Returns InvalidArgument naming the variable and its value for a missing, malformed
// or inconsistent one.
absl::StatusOr<SlurmJob> ParseSlurmJob(const EnvMap& env);

}  // namespace fabric::slurm

#endif  // FABRIC_SLURM_SLURM_JOB_H_
