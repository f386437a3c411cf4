// Command line of the standalone fabric-rendezvous server, parsed into ServerOptions.
//
//   fabric-rendezvous [--host ADDR] [--port N] [--token T | --token-file F] [--run-id ID]
//                     [--keepalive-timeout DUR] [--last-call-timeout DUR]
//                     [--join-timeout DUR]
//
// DUR is an absl duration ("500ms", "5s", "10m"). The token may also come from
// FABRIC_RDZV_TOKEN; the flag wins, then the file, then the environment.
#ifndef FABRIC_RENDEZVOUS_SERVER_FLAGS_H_
#define FABRIC_RENDEZVOUS_SERVER_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rendezvous/server.h"

namespace fabric {
namespace rendezvous {

// INVALID_ARGUMENT naming the flag and what was wrong. `env` stands for the process
// environment (only FABRIC_RDZV_TOKEN is read). Returns NOT_FOUND with the usage text
// for --help.
absl::StatusOr<ServerOptions> ParseServerFlags(const std::vector<std::string>& args,
                                               const std::map<std::string, std::string>& env);

extern const char kServerUsage[];

}  // namespace rendezvous
}  // namespace fabric

#endif  // FABRIC_RENDEZVOUS_SERVER_FLAGS_H_
