#include "rendezvous/etcd_test_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/net.h"
#include "rendezvous/etcd_client.h"

namespace fabric {
namespace rendezvous {

absl::StatusOr<std::unique_ptr<EtcdTestCluster>> EtcdTestCluster::Start(int members,
                                                                        absl::Duration timeout) {
  return StartTls(members, "", "", TlsConfig(), timeout);
}

absl::StatusOr<std::unique_ptr<EtcdTestCluster>> EtcdTestCluster::StartTls(
    int members, const std::string& cert_file, const std::string& key_file,
    const TlsConfig& client_tls) {
  return StartTls(members, cert_file, key_file, client_tls, absl::Seconds(30));
}

absl::StatusOr<std::unique_ptr<EtcdTestCluster>> EtcdTestCluster::StartTls(
    int members, const std::string& cert_file, const std::string& key_file,
    const TlsConfig& client_tls, absl::Duration timeout) {
  if (::access("/usr/bin/etcd", X_OK) != 0) {
    return absl::FailedPreconditionError("/usr/bin/etcd is missing: run tools/setup.sh");
  }
  std::unique_ptr<EtcdTestCluster> c(new EtcdTestCluster());
  c->cert_file_ = cert_file;
  c->key_file_ = key_file;
  c->client_tls_ = client_tls;
  char tmpl[] = "/tmp/fabric-etcd-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  c->dir_ = tmpl;
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    absl::StatusOr<int> cp = PickFreePort();
    absl::StatusOr<int> pp = PickFreePort();
    if (!cp.ok()) return cp.status();
    if (!pp.ok()) return pp.status();
    m.client_port = *cp;
    m.peer_port = *pp;
    m.data_dir = absl::StrCat(c->dir_, "/", m.name);
    absl::StrAppend(&c->initial_cluster_, i ? "," : "", m.name, "=http://127.0.0.1:", m.peer_port);
    c->members_.push_back(m);
  }
  for (Member& m : c->members_) {
    if (absl::Status s = c->Spawn(m, false); !s.ok()) return s;
  }
  if (absl::Status s = c->WaitServing(timeout); !s.ok()) return s;
  return c;
}

EtcdTestCluster::~EtcdTestCluster() {
  for (int i = 0; i < static_cast<int>(members_.size()); ++i) Kill(i);
  if (!dir_.empty()) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (system(cmd.c_str()) != 0) {
    }
  }
}

std::vector<std::string> EtcdTestCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back(absl::StrCat("127.0.0.1:", m.client_port));
  return out;
}

absl::Status EtcdTestCluster::Spawn(Member& m, bool existing) {
  const bool tls = !cert_file_.empty();
  const std::string client = absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", m.client_port);
  const std::string peer = absl::StrCat("http://127.0.0.1:", m.peer_port);
  std::vector<std::string> args = {
      "/usr/bin/etcd",
      "--name",
      m.name,
      "--data-dir",
      m.data_dir,
      "--listen-client-urls",
      client,
      "--advertise-client-urls",
      client,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      initial_cluster_,
      "--initial-cluster-state",
      existing ? "existing" : "new",
      "--initial-cluster-token",
      dir_,
      "--heartbeat-interval",
      "50",
      "--election-timeout",
      "500",
      "--log-level",
      "error",
  };
  if (tls) {
    for (const std::string& a :
         {std::string("--cert-file"), cert_file_, std::string("--key-file"), key_file_}) {
      args.push_back(a);
    }
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = absl::StrCat(dir_, "/", m.name, ".log");
  const pid_t parent = ::getpid();
  // fork, not posix_spawn: the member gets SIGKILL when the test process dies in any way
  // (a crash, a SIGPIPE, a timeout's SIGKILL), so no etcd outlives its test.
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);  // the test died before prctl took effect
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdTestCluster::WaitServing(absl::Duration timeout) {
  EtcdOptions o;
  o.endpoints = endpoints();
  o.tls = client_tls_;
  o.call_timeout = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Create(o);
  if (!client.ok()) return client.status();
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    absl::StatusOr<int64_t> r = (*client)->Put("/fabric-test/ready", "1");
    if (r.ok()) return absl::OkStatus();
    last = r.status();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("etcd test cluster in ", dir_, " did not serve: ", last.message()));
}

void EtcdTestCluster::Kill(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  int status = 0;
  ::waitpid(m.pid, &status, 0);
  m.pid = -1;
}

absl::Status EtcdTestCluster::Restart(int member) {
  Kill(member);
  return Spawn(members_[member], true);
}

}  // namespace rendezvous
}  // namespace fabric
