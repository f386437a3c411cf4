#include "launcher/stacks.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "common/worker_control.h"
#include "launcher/status_client.h"

namespace fabric::launcher {
namespace {

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

bool OnPath(const EnvMap& env, const std::string& name, std::string* found) {
  auto it = env.find("PATH");
  if (it == env.end()) return false;
  for (absl::string_view dir : absl::StrSplit(it->second, ':', absl::SkipEmpty())) {
    const std::string p = absl::StrCat(dir, "/", name);
    if (Executable(p)) {
      *found = p;
      return true;
    }
  }
  return false;
}

// The process' argv[0] and whether its executable is a Python interpreter.
bool IsPython(pid_t pid, std::string* argv0, std::string* cwd) {
  char buf[4096];
  const std::string exe_link = absl::StrCat("/proc/", pid, "/exe");
  const ssize_t n = readlink(exe_link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return false;
  const std::string exe(buf, static_cast<size_t>(n));
  const std::string base = exe.substr(exe.rfind('/') + 1);
  const std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline")).value_or("");
  *argv0 = cmdline.substr(0, cmdline.find('\0'));
  const std::string cwd_link = absl::StrCat("/proc/", pid, "/cwd");
  const ssize_t c = readlink(cwd_link.c_str(), buf, sizeof(buf) - 1);
  *cwd = c > 0 ? std::string(buf, static_cast<size_t>(c)) : "/";
  return absl::StartsWith(base, "python");
}

// The C++ runtime's live stack (common/worker_control.h, 4): empties the file, signals the
// main thread, waits (5 s at most) for the handler's end line.
absl::StatusOr<std::string> NativeStack(pid_t pid, const std::string& file) {
  if (truncate(file.c_str(), 0) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot empty ", file, ": ", std::strerror(errno)));
  }
  if (syscall(SYS_tgkill, pid, pid, StackDumpSignal()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot signal pid ", pid, ": ", std::strerror(errno)));
  }
  for (int i = 0; i < 500; ++i) {
    const std::string text = ReadFile(file).value_or("");
    if (absl::EndsWith(text, kStackDumpEnd)) return text;
    usleep(10000);
  }
  return absl::DeadlineExceededError(
      "the runtime wrote no stack within 5 s (is the process stopped, e.g. by SIGSTOP?)");
}

}  // namespace

std::optional<std::string> PySpyFor(const std::string& argv0, const std::string& cwd,
                                    bool (*exists)(const std::string&), bool on_path) {
  if (argv0.find('/') != std::string::npos) {
    std::string dir = argv0.substr(0, argv0.rfind('/'));
    if (dir.empty()) dir = "/";
    if (dir[0] != '/') dir = absl::StrCat(cwd, "/", dir);
    const std::string candidate = absl::StrCat(dir, "/py-spy");
    if (exists(candidate)) return candidate;
  }
  if (on_path) return std::string("py-spy");
  return std::nullopt;
}

int RunStacksCommand(const std::vector<std::string>& args, const EnvMap& env, int out_fd,
                     int err_fd) {
  std::optional<std::string> run_id;
  std::set<int> ranks;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    int r = -1;
    if (a == "-h" || a == "--help") {
      WriteAll(out_fd,
               "usage: fabric-run stacks [RUN-ID] [--rank R]...\n"
               "Prints where each rank of the job is (Python ranks through py-spy), without\n"
               "stopping it (doc/status.md).\n");
      return 0;
    } else if (a == "--rank" && i + 1 < args.size() && absl::SimpleAtoi(args[i + 1], &r) &&
               r >= 0) {
      ranks.insert(r);
      ++i;
    } else if (absl::StartsWith(a, "-") || run_id.has_value()) {
      WriteAll(err_fd, absl::StrCat("fabric-run: stacks: unexpected argument '", a,
                                    "'; usage: fabric-run stacks [RUN-ID] [--rank R]...\n"));
      return 2;
    } else {
      run_id = a;
    }
  }
  const JobSearch found = FindJobs(StatusBase(env));
  const JobStatus* job = nullptr;
  for (const JobStatus& j : found.jobs) {
    if (!run_id.has_value() || j.run_id == *run_id) {
      if (job != nullptr && !run_id.has_value()) {
        WriteAll(err_fd, "fabric-run: several jobs run here; name one: fabric-run stacks RUN-ID\n");
        return 1;
      }
      job = &j;
    }
  }
  if (job == nullptr) {
    WriteAll(err_fd,
             absl::StrCat("fabric-run: ",
                          run_id ? absl::StrCat("no job with run id '", *run_id, "' runs here")
                                 : found.nothing,
                          "\n"));
    return 1;
  }
  int failed = 0;
  std::set<int> seen;
  std::string pyspy_on_path;
  const bool on_path = OnPath(env, "py-spy", &pyspy_on_path);
  for (const RankStatus& r : job->ranks) {
    if (r.state == RankState::kExited || r.state == RankState::kReplaced) continue;
    if (!ranks.empty() && ranks.count(r.global_rank) == 0) continue;
    seen.insert(r.global_rank);
    WriteAll(out_fd, absl::StrCat("=== rank ", r.global_rank, " (pid ", r.pid, ", node ", r.node,
                                  ", ", RankStateName(r.state), ")\n"));
    std::string argv0, cwd;
    if (!IsPython(r.pid, &argv0, &cwd)) {
      if (!r.stack_file.has_value()) {
        WriteAll(out_fd,
                 "    neither Python nor on the C++ runtime (no live-stack file): no stack without "
                 "stopping it\n");
        ++failed;
        continue;
      }
      absl::StatusOr<std::string> native = NativeStack(r.pid, *r.stack_file);
      if (!native.ok()) {
        WriteAll(out_fd, absl::StrCat("    ", native.status().message(), "\n"));
        ++failed;
        continue;
      }
      WriteAll(out_fd, *native);
      continue;
    }
    std::optional<std::string> pyspy = PySpyFor(argv0, cwd, Executable, on_path);
    if (!pyspy.has_value()) {
      WriteAll(err_fd,
               "fabric-run: py-spy is not installed: pip install py-spy (into the job's Python "
               "environment, or anywhere on PATH), then run fabric-run stacks again\n");
      return 1;
    }
    absl::StatusOr<CommandResult> dump = RunCommand(
        {*pyspy == "py-spy" ? pyspy_on_path : *pyspy, "dump", "--pid", absl::StrCat(r.pid)}, "",
        absl::Seconds(30));
    if (!dump.ok() || dump->exit_code != 0) {
      const std::string why = dump.ok() ? dump->err : std::string(dump.status().message());
      WriteAll(out_fd,
               absl::StrCat("    py-spy could not read it: ", why.substr(0, why.find('\n')),
                            " (ptrace may be restricted: /proc/sys/kernel/yama/ptrace_scope)\n"));
      ++failed;
      continue;
    }
    WriteAll(out_fd, dump->out);
  }
  for (int r : ranks) {
    if (seen.count(r) == 0) {
      WriteAll(err_fd, absl::StrCat("fabric-run: rank ", r, " is not a running rank of job ",
                                    job->run_id, " on this machine\n"));
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace fabric::launcher
