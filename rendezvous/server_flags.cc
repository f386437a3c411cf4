#include "rendezvous/server_flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/endpoint.h"
#include "common/file_util.h"
#include "common/munge.h"
#include "common/status_macros.h"

namespace fabric {
namespace rendezvous {

const char kServerUsage[] =
    "usage: fabric-rendezvous [--host ADDR] [--port N]\n"
    "                         [--token T | --token-file F | --munge | --insecure]\n"
    "                         [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]\n"
    "                         [--run-id ID] [--keepalive-timeout DUR]\n"
    "                         [--last-call-timeout DUR] [--join-timeout DUR]\n"
    "                         [--metrics-port P]\n"
    "Serves the fabric-run rendezvous on ADDR:N (default 127.0.0.1:29400; --port 0 picks a\n"
    "free port). The bound port is printed on stdout as the first line. DUR: 500ms, 5s, 10m.\n"
    "The token may also come from FABRIC_RDZV_TOKEN. --munge: accept the MUNGE credentials\n"
    "of this uid made for --run-id (what agents in a SLURM job with no token present; the\n"
    "socket from FABRIC_MUNGE_SOCKET or slurm.conf's AuthInfo). An ADDR other machines can\n"
    "reach needs one of --token, --token-file, --munge, --tls-client-ca (agents present\n"
    "certificates that CA signed), or --insecure to accept anyone. --tls-cert/--tls-key:\n"
    "serve TLS (agents pass --rdzv-tls-ca). --metrics-port P: Prometheus metrics at\n"
    "http://HOST:P/metrics on every interface (0: any free port, printed on stderr).\n";

namespace {

absl::Status ParseDuration(const std::string& flag, const std::string& value, absl::Duration* out) {
  if (!absl::ParseDuration(value, out) || *out < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", value, "' is not a duration; write it like 500ms, 5s or 10m"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerOptions> ParseServerFlags(const std::vector<std::string>& args,
                                               const std::map<std::string, std::string>& env) {
  ServerOptions o;
  o.port = 29400;
  std::string token_flag, token_file;
  bool insecure = false;
  TlsFiles tls;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (flag == "--help" || flag == "-h") return absl::NotFoundError(kServerUsage);
    if (auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    if (flag == "--munge" || flag == "--insecure") {
      (flag == "--munge" ? o.munge : insecure) = true;
      continue;
    }
    static const char* kKnown[] = {"--host",
                                   "--port",
                                   "--token",
                                   "--token-file",
                                   "--run-id",
                                   "--keepalive-timeout",
                                   "--last-call-timeout",
                                   "--join-timeout",
                                   "--tls-cert",
                                   "--tls-key",
                                   "--tls-client-ca",
                                   "--metrics-port"};
    bool known = false;
    for (const char* k : kKnown) known |= flag == k;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", flag, "'; see fabric-rendezvous --help"));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(flag + ": missing value");
      value = args[++i];
    }
    if (flag == "--host") {
      if (value.empty()) return absl::InvalidArgumentError("--host: empty address");
      o.host = value;
    } else if (flag == "--port") {
      if (!absl::SimpleAtoi(value, &o.port) || o.port < 0 || o.port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("--port: '", value, "' is not a port in 0..65535 (0 = any free port)"));
      }
    } else if (flag == "--token") {
      token_flag = value;
    } else if (flag == "--token-file") {
      token_file = value;
    } else if (flag == "--tls-cert") {
      tls.cert = value;
    } else if (flag == "--tls-key") {
      tls.key = value;
    } else if (flag == "--tls-client-ca") {
      tls.ca = value;
      tls.require_client_cert = true;
    } else if (flag == "--metrics-port") {
      int port = -1;
      if (!absl::SimpleAtoi(value, &port) || port < 0 || port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--metrics-port: '", value, "' is not a port in 0..65535 (0 = any free port)"));
      }
      o.metrics_port = port;
    } else if (flag == "--run-id") {
      o.run_id = value;
    } else if (flag == "--keepalive-timeout") {
      if (auto s = ParseDuration(flag, value, &o.keepalive_timeout); !s.ok()) return s;
    } else if (flag == "--last-call-timeout") {
      if (auto s = ParseDuration(flag, value, &o.last_call_timeout); !s.ok()) return s;
    } else if (flag == "--join-timeout") {
      if (auto s = ParseDuration(flag, value, &o.join_timeout); !s.ok()) return s;
    }
  }
  if (!token_flag.empty()) {
    o.token = token_flag;
  } else if (!token_file.empty()) {
    FABRIC_ASSIGN_OR_RETURN(o.token, ReadTokenFile(token_file, "--token-file"));
  } else if (auto it = env.find("FABRIC_RDZV_TOKEN"); it != env.end()) {
    o.token = it->second;
  }
  if (!tls.cert.empty() || !tls.key.empty() || !tls.ca.empty()) {
    absl::StatusOr<TlsConfig> loaded = LoadTls(tls);
    if (!loaded.ok()) return loaded.status();
    if (loaded->cert_pem.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key too");
    }
    o.tls = *loaded;
  }
  if (o.munge) {
    if (!o.token.empty()) {
      return absl::InvalidArgumentError("--munge and a token exclude each other; pick one");
    }
    if (o.run_id.empty()) {
      return absl::InvalidArgumentError(
          "--munge needs --run-id (the agents' run id, e.g. slurm-<job>.<step>): a "
          "credential is accepted only for its run");
    }
    o.munge_socket = MungeSocketFor(env);
  }
  if (o.token.empty() && !o.munge && !o.tls.require_client_cert && !insecure &&
      !IsLoopbackHost(o.host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--host ", o.host,
                     " is reachable from other machines and no token was given: anyone could join; "
                     "pass --token-file FILE (or FABRIC_RDZV_TOKEN), --munge under SLURM, "
                     "--tls-client-ca for client certificates, or --insecure to accept it"));
  }
  if (o.keepalive_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--keepalive-timeout: must be > 0");
  }
  if (o.join_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--join-timeout: must be > 0");
  }
  return o;
}

}  // namespace rendezvous
}  // namespace fabric
