// EtcdTestCluster: real etcd members (Debian's /usr/bin/etcd) for tests, on free loopback
// ports, each with its own data directory under /tmp; started, killed (SIGKILL, by pid)
// and restarted one by one; a member dies with the test process (PR_SET_PDEATHSIG).
// Removes everything it made when destroyed.
#ifndef FABRIC_RENDEZVOUS_ETCD_TEST_CLUSTER_H_
#define FABRIC_RENDEZVOUS_ETCD_TEST_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rendezvous/tls.h"

namespace fabric {
namespace rendezvous {

class EtcdTestCluster {
 public:
  // Starts `members` members as one cluster and waits (up to `timeout`) until it serves.
  static absl::StatusOr<std::unique_ptr<EtcdTestCluster>> Start(
      int members, absl::Duration timeout = absl::Seconds(30));
  // The same, serving clients over TLS with this PEM certificate and key (files); its
  // readiness is checked with `client_tls` (the CA that signed it).
  static absl::StatusOr<std::unique_ptr<EtcdTestCluster>> StartTls(int members,
                                                                   const std::string& cert_file,
                                                                   const std::string& key_file,
                                                                   const TlsConfig& client_tls);
  ~EtcdTestCluster();

  std::vector<std::string> endpoints() const;  // "127.0.0.1:PORT" each
  void Kill(int member);                       // SIGKILL, reaped
  absl::Status Restart(int member);            // the same ports and data directory
  bool running(int member) const { return members_[member].pid > 0; }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    pid_t pid = -1;
  };
  EtcdTestCluster() = default;
  static absl::StatusOr<std::unique_ptr<EtcdTestCluster>> StartTls(int members,
                                                                   const std::string& cert_file,
                                                                   const std::string& key_file,
                                                                   const TlsConfig& client_tls,
                                                                   absl::Duration timeout);
  absl::Status Spawn(Member& m, bool existing);
  absl::Status WaitServing(absl::Duration timeout);

  std::string dir_;
  std::string cert_file_, key_file_;  // set: clients speak TLS
  TlsConfig client_tls_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_ETCD_TEST_CLUSTER_H_
