#include "launcher/status_client.h"

#include <dirent.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/posix_error.h"
#include "common/unique_fd.h"
#include "launcher/job_status.h"

namespace fabric::launcher {
namespace {

constexpr absl::Duration kAnswerTimeout = absl::Seconds(5);

std::string UserName(uid_t uid) {
  passwd pw;
  passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return absl::StrCat(found->pw_name, " (uid ", uid, ")");
  }
  return absl::StrCat("uid ", uid);
}

struct Found {
  std::vector<JobStatus> jobs;
  std::vector<std::string> stale;       // socket paths that refused
  std::vector<std::string> foreign;     // "PATH belongs to USER"
  std::vector<std::string> unanswered;  // "PATH: why"
};

Found Discover(const std::string& base) {
  Found f;
  DIR* d = opendir(base.c_str());
  if (d == nullptr) return f;
  while (dirent* e = readdir(d)) {
    if (!absl::StartsWith(e->d_name, "fabric-run-")) continue;
    const std::string sock = absl::StrCat(base, "/", e->d_name, "/status.sock");
    struct stat st;
    if (lstat(sock.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (st.st_uid != geteuid()) {
      f.foreign.push_back(absl::StrCat(sock, " belongs to ", UserName(st.st_uid)));
      continue;
    }
    absl::StatusOr<std::string> body = HttpGetUnix(sock, "/status", kAnswerTimeout);
    // A multi-node agent fetches the other nodes' statuses once asked: ask again shortly
    // (5 s at most; then what it has, its own node at least, is shown).
    for (int i = 0; i < 50 && body.ok() && absl::StrContains(*body, "\"peers_pending\":true");
         ++i) {
      usleep(100 * 1000);
      body = HttpGetUnix(sock, "/status", kAnswerTimeout);
    }
    if (!body.ok() && body.status().code() == absl::StatusCode::kUnavailable) {
      f.stale.push_back(sock);
      continue;
    }
    if (!body.ok()) {
      f.unanswered.push_back(absl::StrCat(sock, ": ", body.status().message()));
      continue;
    }
    absl::StatusOr<JobStatus> job = DecodeJobStatus(*body);
    if (!job.ok()) {
      f.unanswered.push_back(absl::StrCat(sock, ": ", job.status().message()));
      continue;
    }
    f.jobs.push_back(*std::move(job));
  }
  closedir(d);
  return f;
}

// Why no job could be shown, in one line.
std::string Nothing(const Found& f, const std::string& base) {
  if (!f.unanswered.empty()) {
    return absl::StrCat("a fabric-run agent did not answer: ", f.unanswered[0]);
  }
  if (!f.stale.empty()) {
    return absl::StrCat("no fabric-run job is running here: ", f.stale[0],
                        " is stale (its agent is gone without removing it; delete its directory)");
  }
  if (!f.foreign.empty()) {
    return absl::StrCat("no fabric-run job of yours runs here; ", f.foreign[0],
                        ": run fabric-run status as that user");
  }
  return absl::StrCat("no fabric-run job is running here (no status socket under ", base,
                      "/fabric-run-*; a job started with another TMPDIR is found with that "
                      "TMPDIR)");
}

std::string ListLine(const JobStatus& j) {
  return absl::StrCat(j.run_id, "  agent pid ", j.agent_pid, "  node ", j.node_rank, "/",
                      j.num_nodes, "  world size ", j.world_size, "  round ", j.round,
                      "  restarts ", j.restarts_used, "/", j.max_restarts, "\n");
}

}  // namespace

std::string StatusBase(const EnvMap& env) {
  auto tmp = env.find("TMPDIR");
  return tmp != env.end() && !tmp->second.empty() ? tmp->second : "/tmp";
}

JobSearch FindJobs(const std::string& base) {
  Found f = Discover(base);
  // The agents of one job (its nodes on this machine) answer with the same run id; each
  // also brings the other nodes' statuses (from the rendezvous), after its own.
  // This machine's agents go first (their own answer is live; MergeNodes keeps the first
  // status of a node rank), then the copies they fetched.
  std::map<std::string, std::vector<JobStatus>> by_run;
  std::vector<JobStatus> copies;
  for (JobStatus& j : f.jobs) {
    for (JobStatus& p : j.peers) copies.push_back(std::move(p));
    j.peers.clear();
    by_run[j.run_id].push_back(std::move(j));
  }
  for (JobStatus& p : copies) by_run[p.run_id].push_back(std::move(p));
  JobSearch out;
  for (auto& [id, nodes] : by_run) out.jobs.push_back(MergeNodes(std::move(nodes)));
  if (out.jobs.empty()) out.nothing = Nothing(f, base);
  return out;
}

void WriteAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

absl::StatusOr<std::string> HttpGetUnix(const std::string& socket_path, const std::string& path,
                                        absl::Duration timeout) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InternalError(absl::StrCat(socket_path, ": path too long for a socket"));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    if (e == ECONNREFUSED || e == ENOENT) {
      return absl::UnavailableError(absl::StrCat(socket_path, ": nobody listens"));
    }
    return PosixError(absl::StrCat("connect ", socket_path), e);
  }
  const std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
  if (send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return ErrnoError("send");
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n > 0) {
      resp.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError(absl::StrCat("no answer within ",
                                                      absl::FormatDuration(timeout),
                                                      " (is the agent stopped, e.g. by SIGSTOP?)"));
    }
    return ErrnoError("read");
  }
  const size_t head_end = resp.find("\r\n\r\n");
  if (!absl::StartsWith(resp, "HTTP/1.1 ") || head_end == std::string::npos) {
    return absl::InternalError("not an HTTP answer");
  }
  int code = 0;
  if (!absl::SimpleAtoi(resp.substr(9, 3), &code) || code != 200) {
    return absl::InternalError(absl::StrCat("the agent answered ", resp.substr(9, 3)));
  }
  return resp.substr(head_end + 4);
}

int RunStatusCommand(const std::vector<std::string>& args, const EnvMap& env, int out_fd,
                     int err_fd) {
  bool json = false;
  std::optional<std::string> run_id;
  for (const std::string& a : args) {
    if (a == "--json") {
      json = true;
    } else if (a == "-h" || a == "--help") {
      WriteAll(out_fd,
               "usage: fabric-run status [RUN-ID] [--json]\n"
               "Shows the fabric-run jobs of this machine: run id, round, restarts, and per rank\n"
               "its pid, state, heartbeat age, step, RSS and CPU (doc/status.md).\n");
      return 0;
    } else if (absl::StartsWith(a, "-") || run_id.has_value()) {
      WriteAll(err_fd, absl::StrCat("fabric-run: status: unexpected argument '", a,
                                    "'; usage: fabric-run status [RUN-ID] [--json]\n"));
      return 2;
    } else {
      run_id = a;
    }
  }
  const std::string base = StatusBase(env);
  const JobSearch found = FindJobs(base);
  const std::vector<JobStatus>& jobs = found.jobs;
  const auto show = [&](const JobStatus& j) {
    WriteAll(out_fd, json ? EncodeJobStatus(j) + "\n" : FormatJobStatus(j));
    return 0;
  };
  if (run_id.has_value()) {
    std::vector<std::string> ids;
    for (const JobStatus& j : jobs) {
      if (j.run_id == *run_id) return show(j);
      ids.push_back(j.run_id);
    }
    WriteAll(err_fd,
             absl::StrCat("fabric-run: no job with run id '", *run_id, "' runs here",
                          ids.empty() ? absl::StrCat(" (", found.nothing, ")")
                                      : absl::StrCat(" (running: ", absl::StrJoin(ids, ", "), ")"),
                          "\n"));
    return 1;
  }
  if (jobs.empty()) {
    WriteAll(err_fd, absl::StrCat("fabric-run: ", found.nothing, "\n"));
    return 1;
  }
  if (jobs.size() == 1) return show(jobs[0]);
  if (json) {
    std::string out = "[";
    for (size_t i = 0; i < jobs.size(); ++i)
      absl::StrAppend(&out, i ? "," : "", EncodeJobStatus(jobs[i]));
    WriteAll(out_fd, out + "]\n");
    return 0;
  }
  std::string out =
      absl::StrCat(jobs.size(), " fabric-run jobs run here; name one: fabric-run status RUN-ID\n");
  for (const JobStatus& j : jobs) absl::StrAppend(&out, ListLine(j));
  WriteAll(out_fd, out);
  return 0;
}

}  // namespace fabric::launcher
