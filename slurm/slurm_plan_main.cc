// slurm-plan: prints the launch plan that fabric-run derives from this process's SLURM
// environment. Used by the real-SLURM tests (tests/slurm/) and handy on a cluster:
//
//   srun -N2 --ntasks-per-node=2 slurm-plan [--devices N] [--num-nodes N]
//        [--accelerator cpu|cuda] [--main-port P] [--check-port]
//
// Prints one line "context=<...> <DescribePlan>" and exits 0; on a plan error prints
// "slurm-plan: <message>" on stderr and exits 2. --check-port: the task that binds the
// main port also verifies it is free (exit 1 if not), as the launcher does.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/net.h"
#include "common/worker_env.h"
#include "slurm/plan.h"
#include "slurm/slurm_job.h"

extern char** environ;

namespace {

int Usage(const std::string& problem) {
  std::fprintf(stderr, "slurm-plan: %s\n", problem.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fabric::slurm::PlanRequest request;
  bool check_port = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--check-port") {
      check_port = true;
      continue;
    }
    if (i + 1 >= argc) return Usage(absl::StrCat(flag, ": missing value"));
    const std::string value = argv[++i];
    int number = 0;
    const bool is_number = absl::SimpleAtoi(value, &number);
    if (flag == "--accelerator") {
      request.accelerator = value;
      request.accelerator_given = true;
    } else if (!is_number) {
      return Usage(absl::StrCat(flag, " ", value, ": not a number"));
    } else if (flag == "--devices") {
      request.devices = number;
    } else if (flag == "--num-nodes") {
      request.num_nodes = number;
    } else if (flag == "--main-port") {
      request.main_port = number;
    } else {
      return Usage(absl::StrCat("unknown flag ", flag));
    }
  }
  fabric::EnvMap env;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) env[std::string(*e, eq - *e)] = std::string(eq + 1);
  }
  absl::StatusOr<fabric::slurm::SlurmJob> job = fabric::slurm::ParseSlurmJob(env);
  if (!job.ok()) return Usage(std::string(job.status().message()));
  absl::StatusOr<fabric::slurm::SlurmPlan> plan = fabric::slurm::PlanLaunch(*job, request);
  if (!plan.ok()) return Usage(std::string(plan.status().message()));
  std::string line =
      absl::StrCat("context=\"", fabric::slurm::SlurmContextName(job->context),
                   "\" host=", fabric::LocalHostname(), " ", fabric::slurm::DescribePlan(*plan));
  if (plan->worker_env) {
    const fabric::EnvMap worker = plan->worker_env->ToEnvMap();
    for (const char* name :
         {fabric::kEnvRank, fabric::kEnvLocalRank, fabric::kEnvWorldSize,
          fabric::kEnvLocalWorldSize, fabric::kEnvMasterAddr, fabric::kEnvMasterPort}) {
      absl::StrAppend(&line, " ", name, "=", worker.at(name));
    }
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (check_port) {
    absl::Status free = fabric::slurm::VerifyMainPort(*plan, fabric::CheckPortFree);
    if (!free.ok()) {
      std::fprintf(stderr, "slurm-plan: %s\n", std::string(free.message()).c_str());
      return 1;
    }
  }
  return 0;
}
