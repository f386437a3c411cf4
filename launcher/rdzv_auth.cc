#include "launcher/rdzv_auth.h"

#include "absl/strings/str_cat.h"
#include "common/endpoint.h"
#include "common/file_util.h"
#include "common/munge.h"

namespace fabric::launcher {
namespace {

// How long an agent's munge credential lives: it is made once, at start, and the
// server remembers it once verified; a standalone server restarted later needs it
// still valid. munged caps it at its --max-ttl.
constexpr int kMungeTtlSeconds = 3600;

}  // namespace

absl::StatusOr<RdzvAuthDecision> DecideRdzvAuth(const RdzvAuthFacts& f) {
  RdzvAuthDecision d;
  if (f.has_token) {
    d.mode = RdzvAuthMode::kToken;
  } else if (f.mutual_tls) {
    d.mode = RdzvAuthMode::kMutualTls;
  } else if (f.loopback || f.insecure) {
    d.mode = RdzvAuthMode::kNone;
  } else if (f.under_slurm) {
    d.mode = RdzvAuthMode::kMunge;
  } else if (f.torchrun) {
    d.mode = RdzvAuthMode::kNone;
    d.warning = absl::StrCat(
        "the rendezvous at ", f.endpoint,
        " is unauthenticated, as torchrun's c10d store: anyone who reaches it can join the "
        "job; set FABRIC_RDZV_TOKEN (the same secret on every node) to require a token");
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "the rendezvous at ", f.endpoint,
        " is reachable from other machines and no token was given: anyone could join the "
        "job; give every node the same secret with --rdzv-token-file FILE (or "
        "FABRIC_RDZV_TOKEN), use mutual TLS (--rdzv-tls-client-auth), run under SLURM "
        "(munge authenticates), or pass --rdzv-insecure to accept it"));
  }
  return d;
}

std::string RendezvousEndpoint(const LaunchOptions& launch) {
  if (!launch.rdzv_endpoint.empty()) return launch.rdzv_endpoint;
  return absl::StrCat(launch.main_address, ":", launch.main_port);
}

RdzvAuthFacts RdzvAuthFactsFor(const LaunchOptions& launch, bool has_token,
                               const std::map<std::string, std::string>& env) {
  RdzvAuthFacts facts;
  facts.endpoint = RendezvousEndpoint(launch);
  std::string host, port;
  facts.has_token = has_token;
  facts.loopback = SplitHostPort(facts.endpoint, &host, &port) && IsLoopbackHost(host);
  facts.insecure = launch.rdzv_insecure;
  facts.mutual_tls = launch.rdzv_tls_client_auth;
  auto job = env.find("SLURM_JOB_ID");
  facts.under_slurm = job != env.end() && !job->second.empty();
  facts.torchrun = launch.torchrun;
  return facts;
}

const char* RdzvAuthModeName(RdzvAuthMode mode) {
  switch (mode) {
    case RdzvAuthMode::kToken: return "token";
    case RdzvAuthMode::kMunge: return "munge";
    case RdzvAuthMode::kMutualTls: return "mutual-tls";
    case RdzvAuthMode::kNone: break;
  }
  return "none";
}

absl::StatusOr<RdzvAuth> ResolveRdzvAuth(const LaunchOptions& launch,
                                         const std::map<std::string, std::string>& env) {
  const bool torchrun = launch.torchrun;
  RdzvAuth auth;
  auth.presented = launch.rdzv_token;
  if (auth.presented.empty() && !launch.rdzv_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(launch.rdzv_token_file, "--rdzv-token-file");
    if (!token.ok()) return absl::FailedPreconditionError(token.status().message());
    auth.presented = *token;
  }
  const RdzvAuthFacts facts = RdzvAuthFactsFor(launch, !auth.presented.empty(), env);
  absl::StatusOr<RdzvAuthDecision> d = DecideRdzvAuth(facts);
  if (!d.ok()) return d.status();
  auth.mode = d->mode;
  auth.warning = d->warning;
  if (auth.mode != RdzvAuthMode::kMunge) return auth;
  auth.munge_socket = MungeSocketFor(env);
  absl::StatusOr<std::string> cred =
      MungeEncode(auth.munge_socket, launch.run_id, kMungeTtlSeconds);
  if (cred.ok()) {
    auth.presented = *cred;
    return auth;
  }
  if (torchrun) {
    auth.mode = RdzvAuthMode::kNone;
    auth.warning =
        absl::StrCat("munge is not usable (", cred.status().message(), "): the rendezvous at ",
                     facts.endpoint, " is unauthenticated, as torchrun's c10d store");
    return auth;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("in a SLURM job with no token the rendezvous authenticates with munge, but ",
                   cred.status().message(),
                   "; start munged (SLURM's AuthType=auth/munge), give every node the same "
                   "--rdzv-token-file FILE, or pass --rdzv-insecure"));
}

}  // namespace fabric::launcher
