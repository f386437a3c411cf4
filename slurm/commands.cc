#include "slurm/commands.h"

#include "absl/strings/str_cat.h"

namespace fabric::slurm {
namespace {

absl::Status CheckPositive(const char* flag, std::optional<int> value) {
  if (value && *value < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("srun ", flag, " ", *value, ": must be at least 1"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> BuildSrunArgv(const SrunOptions& options) {
  if (options.program.empty()) {
    return absl::InvalidArgumentError("srun: no program to run");
  }
  for (auto [flag, value] : {std::pair<const char*, std::optional<int>>{"-N", options.nodes},
                             {"-n", options.ntasks},
                             {"--ntasks-per-node", options.ntasks_per_node},
                             {"--gpus-per-node", options.gpus_per_node},
                             {"--cpus-per-task", options.cpus_per_task}}) {
    absl::Status status = CheckPositive(flag, value);
    if (!status.ok()) return status;
  }
  if (options.immediate_seconds < 0) {
    return absl::InvalidArgumentError("srun --immediate: must not be negative");
  }
  std::vector<std::string> argv = {"srun", "-N", absl::StrCat(options.nodes)};
  if (options.ntasks) argv.insert(argv.end(), {"-n", absl::StrCat(*options.ntasks)});
  if (options.ntasks_per_node) {
    argv.push_back(absl::StrCat("--ntasks-per-node=", *options.ntasks_per_node));
  }
  if (options.gpus_per_node) {
    argv.push_back(absl::StrCat("--gpus-per-node=", *options.gpus_per_node));
  }
  if (options.cpus_per_task) {
    argv.push_back(absl::StrCat("--cpus-per-task=", *options.cpus_per_task));
  }
  if (options.immediate_seconds > 0) {
    argv.push_back(absl::StrCat("--immediate=", options.immediate_seconds));
  }
  if (options.time_limit) {
    const int64_t minutes = absl::ToInt64Minutes(*options.time_limit + absl::Seconds(59));
    argv.push_back(absl::StrCat("--time=", std::max<int64_t>(1, minutes)));
  }
  if (!options.partition.empty()) argv.insert(argv.end(), {"-p", options.partition});
  if (!options.job_name.empty()) argv.insert(argv.end(), {"-J", options.job_name});
  if (options.kill_on_bad_exit) argv.push_back("--kill-on-bad-exit=1");
  if (options.signal) argv.push_back(absl::StrCat("--signal=", *options.signal));
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.insert(argv.end(), options.program.begin(), options.program.end());
  return argv;
}

std::vector<std::string> BuildRequeueArgv(int64_t job_id) {
  return {"scontrol", "requeue", absl::StrCat(job_id)};
}

}  // namespace fabric::slurm
