#include "tests/fabric_run_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/net.h"
#include "gtest/gtest.h"

extern char** environ;

namespace fabric::testing {

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", ws ? ws : "fabric_run", "/", path);
}

std::string FabricRunPath() { return Runfile("launcher/fabric-run"); }
std::string HelperPath() { return Runfile("tests/worker_helper"); }

std::string VenvPython() {
  const char* p = getenv("FABRIC_VENV_PYTHON");
  if (p == nullptr || access(p, X_OK) != 0) return "";
  return p;
}

std::string NewTempDir(const std::string& name) {
  static int counter = 0;
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name, "_", getpid(), "_", counter++);
  mkdir(dir.c_str(), 0755);
  return dir;
}

int FreePort() {
  absl::StatusOr<int> port = PickFreePort();
  if (!port.ok()) {
    ADD_FAILURE() << "no free port: " << port.status();
    return 0;
  }
  return *port;
}

FabricRun::FabricRun(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& extra_env,
                     const std::vector<int>& ignored, bool terminal, const std::string& binary) {
  std::vector<std::string> argv = {binary.empty() ? FabricRunPath() : binary};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra_env) env[k] = v;
  std::vector<std::string> envs;
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) abort();
  std::string pty_name;
  if (terminal) {
    pty_master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (pty_master_ < 0 || grantpt(pty_master_) != 0 || unlockpt(pty_master_) != 0) abort();
    pty_name = ptsname(pty_master_);
  }
  pid_ = fork();
  if (pid_ == 0) {
    if (terminal) {
      setsid();
      int slave = open(pty_name.c_str(), O_RDWR);  // becomes the controlling terminal
      if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0) _exit(126);
      dup2(slave, 0);
      close(slave);
    }
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
    for (int sig : ignored) signal(sig, SIG_IGN);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  reader_ = std::thread([this, o = out[0], e = err[0]] { ReadLoop(o, e); });
}

FabricRun::~FabricRun() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (pty_master_ >= 0) close(pty_master_);
}

void FabricRun::ReadLoop(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (poll(fds, 2, -1) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      absl::MutexLock l(&mu_);
      (i == 0 ? out_ : err_).append(buf, n);
    }
  }
  absl::MutexLock l(&mu_);
  eof_ = true;
}

std::optional<int> FabricRun::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      // Output: the reader sees EOF once every holder of the pipes is gone.
      absl::MutexLock l(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&eof_), absl::Seconds(30));
      return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  reaped_ = true;
  return std::nullopt;
}

bool FabricRun::WaitForOutput(const std::string& text, bool in_stderr, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (in_stderr ? err_ : out_).find(text) != std::string::npos;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&has), timeout);
}

std::string FabricRun::out() {
  absl::MutexLock l(&mu_);
  return out_;
}

std::string FabricRun::err() {
  absl::MutexLock l(&mu_);
  return err_;
}

pid_t WaitForPidFile(const std::string& dir, const std::string& what, int rank,
                     absl::Duration timeout) {
  std::string path = absl::StrCat(dir, "/", what, "_", rank, ".pid");
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::string s = ReadFile(path);
    if (!s.empty()) return atoi(s.c_str());
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

bool Alive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

bool WaitGone(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    waitpid(pid, nullptr, WNOHANG);  // in case it was re-parented to us
    if (!Alive(pid)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

}  // namespace fabric::testing
