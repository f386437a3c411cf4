#include "launcher/slurm_launch.h"

#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/net.h"
#include "launcher/attempt_plan.h"
#include "launcher/exit_status.h"
#include "slurm/commands.h"

extern char** environ;

namespace fabric::launcher {
namespace {

std::optional<int64_t> SlurmJobId(const EnvMap& env) {
  for (const char* name : {"SLURM_JOB_ID", "SLURM_JOBID"}) {
    auto it = env.find(name);
    int64_t id = 0;
    if (it != env.end() && absl::SimpleAtoi(it->second, &id) && id > 0) return id;
  }
  return std::nullopt;
}

// Fills the agent's options from a task-per-node plan.
LaunchOptions AgentLaunchOptions(const slurm::SlurmPlan& plan, LaunchOptions o) {
  o.devices = plan.local_world_size;
  if (!o.devices_set) o.devices_spec = absl::StrCat(plan.local_world_size);
  o.min_nodes = plan.num_nodes;
  o.max_nodes = plan.num_nodes;
  o.num_nodes_set = true;
  o.node_rank = plan.node_rank;
  o.main_address = plan.main_address;
  o.main_port = plan.main_port;
  o.main_port_set = true;
  o.run_id = plan.run_id;
  return o;
}

void WriteErr(const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(2, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

slurm::PlanRequest BuildPlanRequest(const LaunchOptions& o) {
  slurm::PlanRequest r;
  if (o.devices_set) r.devices = o.devices;
  if (o.num_nodes_set) r.num_nodes = o.min_nodes;
  r.accelerator = o.accelerator;
  r.accelerator_given = o.accelerator_set;
  r.strategy = o.strategy;
  r.precision = o.precision;
  r.node_rank = o.node_rank;
  if (o.main_address_set) r.main_address = o.main_address;
  if (o.main_port_set) r.main_port = o.main_port;
  if (o.run_id_set) r.run_id = o.run_id;
  return r;
}

absl::StatusOr<SlurmDecision> DecideSlurmLaunch(const LaunchOptions& options, const EnvMap& env) {
  absl::StatusOr<slurm::SlurmPlan> plan = slurm::PlanLaunchFromEnv(env, BuildPlanRequest(options));
  if (!plan.ok()) return plan.status();
  SlurmDecision d;
  d.plan = *std::move(plan);
  d.launch = options;
  const std::optional<int64_t> job = SlurmJobId(env);
  switch (d.plan.layout) {
    case slurm::Layout::kNotSlurm: break;
    case slurm::Layout::kTaskPerDevice: {
      if (options.requeue_signal != 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "--requeue-on-signal needs fabric-run's agent, but with one srun task per device "
            "fabric-run execs the program (which gets ",
            SignalName(options.requeue_signal),
            " itself): requeue from the program or the batch script, or run one task per "
            "node (`#SBATCH --ntasks-per-node=1`, fabric-run spawns the ",
            d.plan.local_world_size, " workers)"));
      }
      d.action = SlurmDecision::Action::kExec;
      d.exec_argv = options.exec_argv;
      d.exec_env = env;
      for (auto& [k, v] : d.plan.worker_env->ToEnvMap()) d.exec_env[k] = v;
      break;
    }
    case slurm::Layout::kTaskPerNode: d.launch = AgentLaunchOptions(d.plan, options); break;
  }
  if (options.requeue_signal != 0) {
    if (!job.has_value()) {
      return absl::FailedPreconditionError(
          "--requeue-on-signal requeues the SLURM job, but SLURM_JOB_ID is not set: use it "
          "inside a SLURM job (an sbatch script with #SBATCH --requeue)");
    }
    if (d.plan.layout == slurm::Layout::kNotSlurm || d.plan.node_rank == 0) {
      d.requeue_job_id = job;
    }
  }
  return d;
}

absl::Status RequeueSlurmJob(int64_t job_id, const sigset_t& child_mask,
                             const std::string& scontrol) {
  std::vector<std::string> argv = slurm::BuildRequeueArgv(job_id);
  argv[0] = scontrol;
  const std::string command = absl::StrJoin(argv, " ");
  WriteErr(absl::StrCat("fabric-run: requeueing SLURM job ", job_id, ": ", command, "\n"));
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &child_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> cargv = CStrings(argv);
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, argv[0].c_str(), nullptr, &attr, cargv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return absl::InternalError(absl::StrCat(command, ": ", std::strerror(err)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  const ExitStatus st = ExitStatus::FromWaitStatus(status);
  if (!st.success()) {
    return absl::InternalError(absl::StrCat(command, " failed (", st.Describe(),
                                            "): is the job batch-submitted and requeueable "
                                            "(#SBATCH --requeue)?"));
  }
  return absl::OkStatus();
}

std::optional<int> ApplySlurm(AgentOptions* options) {
  absl::StatusOr<SlurmDecision> d = DecideSlurmLaunch(options->launch, options->inherited_env);
  if (!d.ok()) {
    WriteErr(absl::StrCat("fabric-run: ", d.status().message(), "\n"));
    return 2;
  }
  const slurm::SlurmPlan& plan = d->plan;
  if (plan.layout == slurm::Layout::kNotSlurm) {
    LogInfo(plan.note);
  } else {
    LogDebug("SLURM plan: ", slurm::DescribePlan(plan));
    // The task that listens on the main port checks it first, so that a taken port is
    // one clear error instead of a hang or a crash in the workers.
    if (plan.layout == slurm::Layout::kTaskPerDevice || plan.num_nodes > 1) {
      absl::Status free = slurm::VerifyMainPort(plan, CheckPortFree);
      if (!free.ok()) {
        WriteErr(absl::StrCat("fabric-run: ", free.message(), "\n"));
        return 1;
      }
    }
  }
  if (d->action == SlurmDecision::Action::kExec) {
    if (options->launch.max_restarts > 0) {
      LogWarning("--max-restarts ", options->launch.max_restarts,
                 " has no effect with one srun task per device (srun owns the tasks)");
    }
    std::vector<std::string> argv = d->exec_argv;
    std::vector<std::string> envs = EnvToStrings(d->exec_env);
    std::vector<char*> cargv = CStrings(argv);
    std::vector<char*> cenv = CStrings(envs);
    pthread_sigmask(SIG_SETMASK, &options->worker_sigmask, nullptr);
    execve(argv[0].c_str(), cargv.data(), cenv.data());
    const int err = errno;
    WriteErr(absl::StrCat("fabric-run: execve ", argv[0], ": ", std::strerror(err), "\n"));
    return err == ENOENT ? 127 : 126;
  }
  options->launch = std::move(d->launch);
  if (d->requeue_job_id.has_value()) {
    const int64_t job = *d->requeue_job_id;
    const sigset_t mask = options->worker_sigmask;
    options->requeue = [job, mask] { return RequeueSlurmJob(job, mask); };
  } else if (options->launch.requeue_signal != 0) {
    options->requeue = [] {
      WriteErr("fabric-run: node 0's agent requeues the job\n");
      return absl::OkStatus();
    };
  }
  return std::nullopt;
}

}  // namespace fabric::launcher
