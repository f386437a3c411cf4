// fabric-run: the per-node agent binary. Parses the command line (cli.h) and runs
// the job (agent.h). Exit status: the job's (0, the root cause's code, 128 +
// signal), 2 for a bad command line (nothing is spawned), 1 for a setup error.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/hide_args.h"
#include "common/worker_env.h"
#include "launcher/agent.h"
#include "launcher/cli.h"
#include "launcher/dry_run.h"
#include "launcher/install_paths.h"
#include "launcher/multinode.h"
#include "launcher/slurm_launch.h"
#include "launcher/stacks.h"
#include "launcher/status_client.h"
#include "launcher/top.h"
#include "launcher/torch_lookup.h"

extern char** environ;

namespace {

void WriteOut(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else (and before any thread could exist): the agent's signals
  // are handled on its loop through a signalfd only.
  const sigset_t ignored_at_start = fabric::launcher::IgnoredSignals();
  sigset_t original_mask;
  fabric::launcher::BlockAgentSignals(&original_mask);

  fabric::EnvMap env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  fabric::launcher::MachineFacts machine;
  machine.nvidia_gpus = fabric::launcher::CountNvidiaGpus();
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) machine.cpus = CPU_COUNT(&cpus);
  machine.venv_python = fabric::launcher::VenvPythonBeside(fabric::launcher::SelfExecutable());
  absl::StatusOr<fabric::launcher::CliResult> cli = fabric::launcher::ParseCommandLine(
      args, env, machine, fabric::launcher::PersonalityFor(argv[0]));
  if (!cli.ok()) {
    WriteOut(2, absl::StrCat("fabric-run: ", cli.status().message(),
                             "\nfabric-run: run 'fabric-run --help' for usage\n"));
    return 2;
  }
  for (const std::string& w : cli->warnings) {
    WriteOut(2, absl::StrCat("fabric-run: warning: ", w, "\n"));
  }
  // The token's value out of ps (the launcher's own flags only, not the program's).
  fabric::HideArgValues(argv, argc - 1 - static_cast<int>(cli->options.program_argv.size()),
                        {"--rdzv-token"});
  using Action = fabric::launcher::CliResult::Action;
  if (cli->action == Action::kStatus || cli->action == Action::kTop ||
      cli->action == Action::kStacks) {
    // A client, not an agent: Ctrl-C and the terminal's signals act as usual.
    sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    if (cli->action == Action::kTop) return fabric::launcher::RunTopCommand(cli->command_args, env);
    if (cli->action == Action::kStacks) {
      return fabric::launcher::RunStacksCommand(cli->command_args, env, 1, 2);
    }
    return fabric::launcher::RunStatusCommand(cli->command_args, env, 1, 2);
  }
  if (cli->action == Action::kInstallTorchrun) {
    const std::vector<std::string>& a = cli->command_args;
    if (a.size() > 1 || (a.size() == 1 && a[0] != "--undo")) {
      WriteOut(2, "fabric-run: install-torchrun takes no argument but --undo\n");
      return 2;
    }
    absl::StatusOr<std::string> done =
        fabric::launcher::InstallTorchrun(fabric::launcher::SelfExecutable(), !a.empty());
    WriteOut(done.ok() ? 1 : 2,
             absl::StrCat("fabric-run: ", done.ok() ? *done : done.status().message(), "\n"));
    return done.ok() ? 0 : 1;
  }
  if (cli->action != fabric::launcher::CliResult::Action::kRun) {
    WriteOut(1, cli->action == fabric::launcher::CliResult::Action::kVersion ? cli->text + "\n"
                                                                             : cli->text);
    return 0;
  }
  // A native program that links LibTorch but cannot find it gets --python's torch/lib
  // (torch_lookup.h); one line and exit 2 when that torch is missing or another version.
  if (cli->options.exec_argv[0] != cli->options.python) {
    absl::StatusOr<std::optional<std::string>> torch_lib =
        fabric::launcher::TorchLibFor(cli->options.exec_argv[0], cli->options.python);
    if (!torch_lib.ok()) {
      WriteOut(2, absl::StrCat("fabric-run: ", torch_lib.status().message(), "\n"));
      return 2;
    }
    if (*torch_lib) fabric::launcher::AppendLibraryPath(**torch_lib, &env);
  }
  if (cli->options.dry_run) {
    absl::StatusOr<std::string> plan = fabric::launcher::DescribeLaunch(cli->options, env);
    if (!plan.ok()) {
      WriteOut(2, absl::StrCat("fabric-run: ", plan.status().message(), "\n"));
      return 2;
    }
    WriteOut(1, *plan);
    return 0;
  }
  fabric::launcher::AgentOptions options;
  options.launch = std::move(cli->options);
  options.inherited_env = std::move(env);
  options.worker_sigmask = original_mask;
  options.ignored_at_start = ignored_at_start;
  // Under SLURM: fill in the plan's values, exec the program (one task per device), or
  // stop with the plan's error (doc/slurm.md).
  if (std::optional<int> code = fabric::launcher::ApplySlurm(&options)) return *code;
  if (fabric::launcher::IsMultiNode(options.launch)) {
    return fabric::launcher::MultiNodeMain(argv, std::move(options));
  }
  absl::StatusOr<std::unique_ptr<fabric::launcher::Agent>> agent =
      fabric::launcher::Agent::Create(std::move(options));
  if (!agent.ok()) {
    WriteOut(2, absl::StrCat("fabric-run: ", agent.status().message(), "\n"));
    return agent.status().code() == absl::StatusCode::kFailedPrecondition ? 2 : 1;
  }
  return (*agent)->Run();
}
