// Test-only: SLURM environments as srun, sbatch and salloc really set them (variable
// list recorded on SLURM 22.05, see doc/slurm.md), for table-driven tests.
#ifndef FABRIC_SLURM_TEST_ENV_H_
#define FABRIC_SLURM_TEST_ENV_H_

#include <cstdint>
#include <string>

#include "common/worker_env.h"

namespace fabric::slurm::testing {

struct StepSpec {
  int64_t job_id = 4242;
  int64_t step_id = 0;
  std::string nodelist = "n[1-2]";       // compressed, as SLURM writes it
  std::string tasks_per_node = "2(x2)";  // compressed, as SLURM writes it
  std::string job_name = "train";
};

// A spec with the given nodelist and tasks per node (other fields default).
StepSpec Spec(const std::string& nodelist, const std::string& tasks_per_node);

// The environment of task `procid` of the step: its node and local id follow SLURM's
// default block distribution over `tasks_per_node`. REQUIRES: a valid spec and procid.
EnvMap SrunTaskEnv(const StepSpec& spec, int procid);

// The batch script of the job (SLURM_PROCID=0, no step).
EnvMap BatchScriptEnv(const StepSpec& spec);

// An salloc shell (SLURM_JOB_ID, no SLURM_PROCID, no step).
EnvMap AllocationShellEnv(const StepSpec& spec);

}  // namespace fabric::slurm::testing

#endif  // FABRIC_SLURM_TEST_ENV_H_
