#include "tests/runtime/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/net.h"
#include "common/status_macros.h"

extern char** environ;

namespace fabric::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

}  // namespace

std::string WorkerBinary() {
  const char* src = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  if (src != nullptr && ws != nullptr) {
    return absl::StrCat(src, "/", ws, "/tests/runtime/worker");
  }
  return "tests/runtime/worker";
}

absl::StatusOr<std::vector<RankResult>> RunRanks(const JobSpec& spec) {
  FABRIC_ASSIGN_OR_RETURN(int port, PickFreePort());
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = tmp != nullptr ? tmp : "/tmp";
  EnvMap base;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) base[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<pid_t> pids(spec.world_size, -1);
  std::vector<RankResult> results(spec.world_size);
  std::vector<std::string> logs(spec.world_size);
  for (int r = 0; r < spec.world_size; ++r) {
    WorkerEnv w;
    w.rank = r;
    w.local_rank = r;
    w.world_size = spec.world_size;
    w.local_world_size = spec.world_size;
    w.master_addr = "127.0.0.1";
    w.master_port = port;
    w.lt_cli_used = false;
    w.omp_num_threads = "1";
    EnvMap env = base;
    for (const auto& [k, v] : w.ToEnvMap()) env[k] = v;
    env.erase(kEnvLtNumNodes);  // ToEnvMap always writes it; tests set LT_* explicitly
    for (const auto& [k, v] : spec.extra_env) env[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = {spec.binary};
    argv_strings.insert(argv_strings.end(), spec.args.begin(), spec.args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    logs[r] = absl::StrCat(dir, "/rank", r, "-", port, ".log");
    int fd = open(logs[r].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", logs[r], ": ", strerror(errno)));
    pid_t pid = fork();
    if (pid < 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
    }
    if (pid == 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      execve(argv[0], argv.data(), envp.data());
      const char msg[] = "execve failed\n";
      (void)!write(2, msg, sizeof(msg) - 1);
      _exit(127);
    }
    close(fd);
    pids[r] = pid;
  }
  absl::Time deadline = absl::Now() + spec.timeout;
  int running = spec.world_size;
  while (running > 0) {
    for (int r = 0; r < spec.world_size; ++r) {
      if (pids[r] < 0) continue;
      int status = 0;
      pid_t got = waitpid(pids[r], &status, WNOHANG);
      if (got == pids[r]) {
        results[r].rank = r;
        if (WIFEXITED(status)) results[r].exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) results[r].signal = WTERMSIG(status);
        pids[r] = -1;
        --running;
      }
    }
    if (running == 0) break;
    if (absl::Now() > deadline) {
      for (int r = 0; r < spec.world_size; ++r) {
        if (pids[r] < 0) continue;
        kill(pids[r], SIGKILL);
        int status = 0;
        waitpid(pids[r], &status, 0);
        results[r].rank = r;
        results[r].timed_out = true;
        results[r].signal = SIGKILL;
        pids[r] = -1;
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (int r = 0; r < spec.world_size; ++r) {
    results[r].output = ReadAll(logs[r]);
    unlink(logs[r].c_str());
  }
  return results;
}

std::string Describe(const std::vector<RankResult>& results) {
  std::string out;
  for (const auto& r : results) {
    absl::StrAppend(&out, "---- rank ", r.rank, " exit ", r.exit_code, " signal ", r.signal,
                    r.timed_out ? " TIMED OUT" : "", "\n", r.output);
  }
  return out;
}

std::vector<std::string> LinesWithPrefix(const std::string& output, const std::string& prefix) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (line.substr(0, prefix.size()) == prefix) out.emplace_back(line.substr(prefix.size()));
  }
  return out;
}

}  // namespace fabric::testing
