// How a multi-node agent authenticates to the rendezvous (doc/reliability.md "The
// control plane"). In order:
//   a token (--rdzv-token, --rdzv-token-file, FABRIC_RDZV_TOKEN): that token;
//   mutual TLS (--rdzv-tls-client-auth): the client certificates;
//   a rendezvous on loopback: none (no other machine can reach it);
//   --rdzv-insecure (FABRIC_RDZV_INSECURE=1): none, by the user's choice;
//   a SLURM job: MUNGE credentials (SLURM's own: the same key and uid on every node),
//     so an srun job needs no configuration;
//   started as torchrun: none, as torchrun's own c10d store, with one warning line;
//   otherwise: refused, before anything starts, naming the ways out.
// The decision is a pure function of facts; ResolveRdzvAuth gathers them (DNS, the
// token file, munge) for the agent.
#ifndef FABRIC_LAUNCHER_RDZV_AUTH_H_
#define FABRIC_LAUNCHER_RDZV_AUTH_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "launcher/options.h"

namespace fabric::launcher {

enum class RdzvAuthMode { kNone, kToken, kMunge, kMutualTls };

struct RdzvAuthFacts {
  bool has_token = false;
  bool mutual_tls = false;   // --rdzv-tls-client-auth
  bool insecure = false;     // --rdzv-insecure
  bool loopback = false;     // the rendezvous host is loopback only
  bool under_slurm = false;  // SLURM_JOB_ID is set
  bool torchrun = false;     // started under the name torchrun
  std::string endpoint;      // HOST:PORT, for messages
};

struct RdzvAuthDecision {
  RdzvAuthMode mode = RdzvAuthMode::kNone;
  std::string warning;  // one line to print, or empty
};

// FAILED_PRECONDITION (one line: what, and the three fixes) when the rendezvous would be
// open to anyone who can reach it.
absl::StatusOr<RdzvAuthDecision> DecideRdzvAuth(const RdzvAuthFacts& facts);

// What the agent presents and what its embedded server requires.
struct RdzvAuth {
  RdzvAuthMode mode = RdzvAuthMode::kNone;
  std::string presented;     // the token, or this agent's munge credential
  std::string munge_socket;  // kMunge: the socket SLURM uses (empty: munge's default)
  std::string warning;
};

// The facts for `launch` (a DNS lookup of the rendezvous host); `has_token` as known.
RdzvAuthFacts RdzvAuthFactsFor(const LaunchOptions& launch, bool has_token,
                               const std::map<std::string, std::string>& env);

// "none", "token", "munge", "mutual-tls".
const char* RdzvAuthModeName(RdzvAuthMode mode);

// Decides and fetches the credential: reads --rdzv-token-file, asks munge for a
// credential for the run id. FAILED_PRECONDITION with one line on refusal, an unreadable
// token file, or munge failing in a SLURM job (unless launch.torchrun: then none, with a
// warning).
absl::StatusOr<RdzvAuth> ResolveRdzvAuth(const LaunchOptions& launch,
                                         const std::map<std::string, std::string>& env);

// The rendezvous host:port an agent of `launch` dials (or serves): --rdzv-endpoint or
// --main-address:--main-port.
std::string RendezvousEndpoint(const LaunchOptions& launch);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_RDZV_AUTH_H_
