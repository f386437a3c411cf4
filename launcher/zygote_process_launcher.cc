#include "launcher/zygote_process_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "launcher/fabric_zygote_py.h"

namespace fabric::launcher {
namespace {

absl::Status WriteScript(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  const size_t n = sizeof(kFabricZygotePy) - 1;
  const bool ok = write(fd, kFabricZygotePy, n) == static_cast<ssize_t>(n);
  close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("write ", path));
  return absl::OkStatus();
}

std::string Cwd() {
  char buf[4096];
  return getcwd(buf, sizeof(buf)) != nullptr ? std::string(buf) : std::string("/");
}

}  // namespace

ZygoteProcessLauncher::~ZygoteProcessLauncher() {
  Stop();
  if (!script_.empty()) unlink(script_.c_str());
}

absl::StatusOr<Child> ZygoteProcessLauncher::Spawn(const SpawnSpec& spec) {
  // A memory policy is set before the exec, in C: not by the zygote.
  if (failed_ || spec.argv.empty() || spec.preferred_node >= 0) return base_->Spawn(spec);
  std::optional<PythonTarget> target = ParsePythonArgv(options_.python, spec.argv);
  if (!target) return base_->Spawn(spec);
  if (zygote_pid_ < 0) {
    if (absl::Status st = Start(spec); !st.ok()) {
      Fail(std::string(st.message()));
      return base_->Spawn(spec);
    }
  }
  absl::StatusOr<Child> child = Fork(*target, spec);
  if (child.ok()) return child;
  Fail(std::string(child.status().message()));
  return base_->Spawn(spec);
}

absl::Status ZygoteProcessLauncher::Start(const SpawnSpec& first) {
  script_ = absl::StrCat(options_.script_dir, "/fabric_zygote.py");
  if (absl::Status st = WriteScript(script_); !st.ok()) return st;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  sock_.reset(sv[0]);
  UniqueFd theirs(sv[1]);
  SpawnSpec z;
  z.name = "the preload zygote";
  z.argv = {options_.python, script_, absl::StrJoin(options_.modules, ",")};
  z.env = first.env;
  z.stdin_fd = theirs.get();  // dup2'ed onto its fd 0: the socket
  z.stdout_fd = options_.console_fd;
  z.stderr_fd = options_.console_fd;
  absl::StatusOr<Child> child = base_->Spawn(z);
  if (!child.ok()) return child.status();
  zygote_pid_ = child->pid;
  base_->KeepAcrossAttempts(zygote_pid_);
  theirs.reset();  // its EOF is the zygote's death
  absl::StatusOr<std::string> msg = Receive(options_.ready_timeout);
  if (!msg.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the zygote did not get ready: ", msg.status().message()));
  }
  if (*msg == "ready") return absl::OkStatus();
  if (absl::StartsWith(*msg, "error ")) return absl::FailedPreconditionError(msg->substr(6));
  return absl::InternalError(absl::StrCat("the zygote said '", *msg, "'"));
}

absl::StatusOr<Child> ZygoteProcessLauncher::Fork(const PythonTarget& target,
                                                  const SpawnSpec& spec) {
  const std::string req = EncodeSpawnRequest(target, spec, Cwd());
  int fds[3] = {spec.stdin_fd >= 0 ? spec.stdin_fd : 0, spec.stdout_fd >= 0 ? spec.stdout_fd : 1,
                spec.stderr_fd >= 0 ? spec.stderr_fd : 2};
  iovec iov{const_cast<char*>(req.data()), req.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(cm), fds, sizeof(fds));
  ssize_t sent;
  do {
    sent = sendmsg(sock_.get(), &mh, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(req.size())) {
    return absl::UnavailableError(
        absl::StrCat("spawn ", spec.name, ": send to the zygote: ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> msg = Receive(options_.reply_timeout);
  if (!msg.ok()) {
    return absl::UnavailableError(
        absl::StrCat("spawn ", spec.name, ": the zygote: ", msg.status().message()));
  }
  pid_t pid = 0;
  if (absl::StartsWith(*msg, "ok ") && absl::SimpleAtoi(msg->substr(3), &pid) && pid > 1) {
    base_->TrackGroup(pid);  // the worker made itself its group's leader before the reply
    ++forked_;
    return Child{pid, pid};
  }
  return absl::InternalError(absl::StrCat("spawn ", spec.name, ": the zygote: ", *msg));
}

absl::StatusOr<std::string> ZygoteProcessLauncher::Receive(absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
    }
    pollfd p{sock_.get(), POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    if (r == 0) continue;
    char buf[4096];
    const ssize_t n = recv(sock_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    if (n == 0) return absl::UnavailableError("it exited");
    return std::string(buf, static_cast<size_t>(n));
  }
}

std::optional<Reaped> ZygoteProcessLauncher::ReapAny() {
  for (;;) {
    std::optional<Reaped> r = base_->ReapAny();
    if (!r || zygote_pid_ <= 0 || r->pid != zygote_pid_) return r;
    zygote_pid_ = -1;  // reaped: Stop() must not wait for it
    Fail(absl::StrCat("the zygote (pid ", r->pid, ") exited: ", r->status.Describe()));
  }
}

void ZygoteProcessLauncher::Fail(const std::string& why) {
  if (options_.say) {
    options_.say(absl::StrCat("fabric-run: --preload ", absl::StrJoin(options_.modules, ","), ": ",
                              why, "; spawning Python workers normally\n"));
  }
  failed_ = true;
  Stop();
}

void ZygoteProcessLauncher::Stop() {
  sock_.reset();  // the zygote reads EOF and exits
  if (zygote_pid_ > 0) {
    base_->ReleaseGroup(zygote_pid_);  // SIGKILL: it and a fork in flight
    int st;
    while (waitpid(zygote_pid_, &st, 0) < 0 && errno == EINTR) {
    }
    zygote_pid_ = -1;
  }
}

}  // namespace fabric::launcher
