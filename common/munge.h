// MUNGE credentials (SLURM's authentication service), through its `munge` and
// `unmunge` tools: a credential made on any node of a cluster sharing one munge key
// proves the uid that made it and carries a payload (here: the run id). fabric-run
// uses them to authenticate the rendezvous under SLURM with no configuration
// (doc/reliability.md "The control plane").
//
// Thread safety: the functions are reentrant; the parsers are pure.
#ifndef FABRIC_COMMON_MUNGE_H_
#define FABRIC_COMMON_MUNGE_H_

#include <sys/types.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric {

struct MungeIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string payload;
};

// A credential for `payload` valid for `ttl_seconds` (munged may cap it), from
// `munge --socket SOCKET` (SOCKET empty: munge's default). UNAVAILABLE with munge's own
// words when the tool or its daemon is missing.
absl::StatusOr<std::string> MungeEncode(const std::string& socket, const std::string& payload,
                                        int ttl_seconds);

// Decodes `credential` with `unmunge`. UNAUTHENTICATED naming munge's status when it is
// invalid, expired, replayed or made with another key; UNAVAILABLE when unmunge or its
// daemon cannot be reached.
absl::StatusOr<MungeIdentity> MungeDecode(const std::string& socket, const std::string& credential);

// Parses unmunge's output ("STATUS: Success (0)", ..., "UID: name (N)", "GID: ...",
// a blank line, the payload). UNAUTHENTICATED with munge's status text when STATUS is
// not Success; INVALID_ARGUMENT when the output is malformed.
absl::StatusOr<MungeIdentity> ParseUnmungeOutput(absl::string_view output);

// The munge socket SLURM uses, from slurm.conf's text: AuthInfo=...socket=PATH...
// Empty when not set (munge's default socket).
std::string MungeSocketFromSlurmConf(absl::string_view conf_text);

// The munge socket for this process: FABRIC_MUNGE_SOCKET, else the AuthInfo of the
// slurm.conf at SLURM_CONF (or /etc/slurm/slurm.conf), else empty (munge's default).
std::string MungeSocketFor(const std::map<std::string, std::string>& env);

}  // namespace fabric

#endif  // FABRIC_COMMON_MUNGE_H_
